package serve

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A client that sends its headers a byte at a time, or a body that never
// ends, is disconnected by the server's timeouts instead of holding the
// connection open.
func TestSlowClientsAreCutOff(t *testing.T) {
	o := testOptions(t)
	o.WebhookSecret = "s3cret"
	o.Timeouts = Timeouts{ReadHeader: 200 * time.Millisecond, Read: 400 * time.Millisecond}
	r := startService(t, o)
	addr := strings.TrimPrefix(r.url, "http://")

	cases := map[string]func(c net.Conn){
		"slow headers": func(c net.Conn) {
			// Never finishes the header block.
			for _, b := range []byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ") {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		},
		"endless body": func(c net.Conn) {
			io.WriteString(c, "POST /webhooks/acr HTTP/1.1\r\nHost: x\r\nX-Immutag-Webhook-Secret: s3cret\r\nContent-Length: 1000\r\n\r\n{")
		},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			send(c)
			// The server must close the connection (EOF or a 408/400 reply
			// then EOF) well before this deadline.
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = io.Copy(io.Discard, bufio.NewReader(c))
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open after %s", time.Since(start).Round(time.Millisecond))
			}
			// The deadline above already fails a server without timeouts;
			// this only says how late a cut-off came (200 ms configured).
			if d := time.Since(start); d > 8*time.Second {
				t.Fatalf("cut off only after %s", d)
			}
		})
	}
}
