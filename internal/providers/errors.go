package providers

import (
	"errors"
	"fmt"
	"os"
	"time"
)

var getenv = os.Getenv

// ErrorClass classifies API failures so callers need not match strings.
// The classes are sentinel errors: errors.Is(err, providers.ErrDenied)
// holds for any error that wraps an *APIError of that class.
type ErrorClass string

func (c ErrorClass) Error() string { return string(c) }

// Error classes shared by every adapter.
const (
	ErrNotFound    ErrorClass = "not-found"
	ErrDenied      ErrorClass = "denied"
	ErrThrottled   ErrorClass = "throttled"
	ErrUnsupported ErrorClass = "unsupported"
	ErrOther       ErrorClass = "other"
)

// ErrReadBack marks an Apply error that came after every write succeeded,
// while reading the setting back: the change is applied but unverified,
// not failed, and the next run reads it again.
var ErrReadBack = errors.New("read-back failed")

// APIError is the typed error adapters return for registry API failures.
// Message is the API's own text; it never carries credentials.
type APIError struct {
	Class      ErrorClass
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
	Err        error
}

func (e *APIError) Error() string {
	s := string(e.Class)
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

// Is makes errors.Is(err, class) hold for the error's own class.
func (e *APIError) Is(target error) bool {
	c, ok := target.(ErrorClass)
	return ok && c == e.Class
}

// ClassOf returns the class of the first *APIError err wraps, or ErrOther.
func ClassOf(err error) ErrorClass {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Class
	}
	return ErrOther
}
