package providers

import (
	"errors"
	"fmt"
	"os"
	"time"
)

var getenv = os.Getenv

// ErrorKind classifies API failures so callers need not match strings.
type ErrorKind string

// Error kinds shared by every adapter.
const (
	ErrNotFound    ErrorKind = "not-found"
	ErrDenied      ErrorKind = "denied"
	ErrThrottled   ErrorKind = "throttled"
	ErrUnsupported ErrorKind = "unsupported"
	ErrOther       ErrorKind = "other"
)

// ErrReadBack marks an Apply error that came after every write succeeded,
// while reading the setting back: the change is applied but unverified,
// not failed, and the next run reads it again.
var ErrReadBack = errors.New("read-back failed")

// APIError is the typed error adapters return for registry API failures.
// Message is the API's own text; it never carries credentials.
type APIError struct {
	Kind       ErrorKind
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
	Err        error
}

func (e *APIError) Error() string {
	s := string(e.Kind)
	if e.Status != 0 {
		s = fmt.Sprintf("%s (HTTP %d)", s, e.Status)
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *APIError) Unwrap() error { return e.Err }

// KindOf returns the ErrorKind of err, or ErrOther.
func KindOf(err error) ErrorKind {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Kind
	}
	return ErrOther
}
