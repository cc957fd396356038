package acr

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/immutag/immutag/internal/providers"
)

// parseACRError reads the first entry of an AcrErrors body
// ({"errors":[{"code","message","detail"}]}). detail is ignored: ACR sends an
// array on 401s although the spec says object.
func parseACRError(body []byte) (code, msg string) {
	var e struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		return e.Errors[0].Code, e.Errors[0].Message
	}
	return "", ""
}

func kindForStatus(status int) providers.ErrorClass {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return providers.ErrDenied
	case http.StatusNotFound:
		return providers.ErrNotFound
	case http.StatusTooManyRequests:
		return providers.ErrThrottled
	}
	return providers.ErrOther
}

func httpAPIError(resp *http.Response, body []byte) *providers.APIError {
	code, msg := parseACRError(body)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &providers.APIError{
		Class:      kindForStatus(resp.StatusCode),
		Status:     resp.StatusCode,
		Code:       code,
		Message:    msg,
		RetryAfter: retryAfter(resp),
	}
}

func retryAfter(resp *http.Response) time.Duration {
	if v := resp.Header.Get("retry-after-ms"); v != "" {
		if ms, err := strconv.Atoi(v); err == nil {
			return time.Duration(ms) * time.Millisecond
		}
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return time.Until(t)
		}
	}
	return 0
}

// asAPIError converts SDK errors to the shared typed error (nil when err is
// not an API answer, e.g. a transport failure or a cancelled context).
func asAPIError(err error) *providers.APIError {
	var ae *providers.APIError
	if errors.As(err, &ae) {
		return ae
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		out := &providers.APIError{Class: kindForStatus(re.StatusCode), Status: re.StatusCode, Err: err}
		if re.RawResponse != nil {
			body, _ := runtime.Payload(re.RawResponse)
			out.Code, out.Message = parseACRError(body)
			out.RetryAfter = retryAfter(re.RawResponse)
		}
		if out.Code == "" {
			out.Code = re.ErrorCode
		}
		if out.Message == "" {
			out.Message = http.StatusText(re.StatusCode)
		}
		return out
	}
	return nil
}

// apiErr returns the typed form of err when it has one, err otherwise.
func apiErr(err error) error {
	if ae := asAPIError(err); ae != nil {
		return ae
	}
	return err
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func readLimited(resp *http.Response) ([]byte, error) {
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}
