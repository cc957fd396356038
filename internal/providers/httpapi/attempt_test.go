package httpapi

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func attemptClient(t *AttemptTransport) *http.Client { return &http.Client{Transport: t} }

func TestAttemptTransportReadsTheBodyWhole(t *testing.T) {
	srv, _ := script(t, func(_ int, w http.ResponseWriter, _ *http.Request) { okJSON(w) })
	resp, err := attemptClient(&AttemptTransport{Base: srv.Client().Transport}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != `{"ok":true}` || resp.ContentLength != int64(len(b)) {
		t.Errorf("body %q, content length %d", b, resp.ContentLength)
	}
}

func TestAttemptTransportCutsAStallInTheBody(t *testing.T) {
	srv, _ := script(t, func(_ int, w http.ResponseWriter, r *http.Request) { slowLoris(w, r) })
	for name, tr := range map[string]*AttemptTransport{
		"attempt timeout": {Base: srv.Client().Transport, Timeout: 50 * time.Millisecond, IdleTimeout: -1},
		"idle timeout":    {Base: srv.Client().Transport, Timeout: -1, IdleTimeout: 50 * time.Millisecond},
	} {
		_, err := attemptClient(tr).Get(srv.URL)
		want := ErrAttemptTimeout
		if tr.IdleTimeout > 0 {
			want = ErrIdleTimeout
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: error %v, want %v", name, err, want)
		}
		// An SDK's retry loop must see it as worth another attempt.
		if !Transient(err) {
			t.Errorf("%s: %v is not transient", name, err)
		}
	}
}

// A gzip stream whose first member holds a complete JSON answer and whose
// further members inflate past the limit is refused, not decoded up to the
// end of its JSON value.
func TestAttemptTransportRefusesAGzipBomb(t *testing.T) {
	defer func(n int64) { MaxBodyBytes = n }(MaxBodyBytes)
	MaxBodyBytes = 1 << 20
	var z bytes.Buffer
	for _, part := range [][]byte{[]byte(`{"ok":true}`), bytes.Repeat([]byte(" "), 1<<20), bytes.Repeat([]byte(" "), 1<<20)} {
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(part)
		_ = zw.Close()
	}
	srv, _ := script(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(z.Len()))
		_, _ = w.Write(z.Bytes())
	})
	_, err := attemptClient(&AttemptTransport{Base: srv.Client().Transport}).Get(srv.URL)
	if !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("error %v, want ErrBodyTooLarge", err)
	}
	if Transient(err) {
		t.Errorf("an oversize answer must not be retried: %v", err)
	}
}
