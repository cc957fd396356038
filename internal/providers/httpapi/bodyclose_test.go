package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// sdkBody behaves like smithy-go's safe request body: once closed, Read
// and WriteTo answer io.EOF. Its WriteTo waits for the Close the SDK makes
// when the response headers arrive, which is the order a fast server
// produces by chance.
type sdkBody struct {
	r      *bytes.Reader
	once   sync.Once
	closed chan struct{}
}

func (b *sdkBody) Read(p []byte) (int, error) {
	select {
	case <-b.closed:
		return 0, io.EOF
	default:
		return b.r.Read(p)
	}
}

func (b *sdkBody) WriteTo(w io.Writer) (int64, error) {
	<-b.closed
	return 0, io.EOF
}

func (b *sdkBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// TestClosedSDKBodyDoesNotCutTheResponse: a request body closed by its
// owner once the response headers are in must not make net/http drop the
// connection under the response body (ECR calls were retried after a
// backoff, one in ten on loopback).
func TestClosedSDKBodyDoesNotCutTheResponse(t *testing.T) {
	payload := strings.Repeat(`{"imageDigest":"sha256:0"},`, 40000)
	bodyClosed := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Length", "1048576")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-bodyClosed
		// Let a connection the client tears down be torn down before the
		// body is on the wire (ordering only; nothing is timed).
		time.Sleep(50 * time.Millisecond)
		_, _ = io.WriteString(w, (payload + strings.Repeat(" ", 1048576))[:1048576])
	}))
	defer srv.Close()
	hc := NoRedirectClient(&http.Client{Transport: &http.Transport{}}, "test")
	in := []byte(`{"repositoryName":"team/svc","maxResults":1000,"filter":{"tagStatus":"TAGGED"}}`)
	body := &sdkBody{r: bytes.NewReader(in), closed: make(chan struct{})}
	req, err := http.NewRequest(http.MethodPost, srv.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(in))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body.Close()
	close(bodyClosed)
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != 1048576 {
		t.Fatalf("reading the response after the request body was closed: %d bytes, %v", n, err)
	}
}
