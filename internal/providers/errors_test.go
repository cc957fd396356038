package providers

import (
	"errors"
	"fmt"
	"testing"
)

// TestErrorClassesAreSentinels: errors.Is finds the class of a wrapped
// APIError and nothing else; ClassOf agrees.
func TestErrorClassesAreSentinels(t *testing.T) {
	err := fmt.Errorf("scope x: %w", &APIError{Class: ErrThrottled, Status: 429, Message: "slow down"})
	if !errors.Is(err, ErrThrottled) {
		t.Errorf("errors.Is(%v, ErrThrottled) = false", err)
	}
	for _, c := range []ErrorClass{ErrDenied, ErrNotFound, ErrUnsupported, ErrOther} {
		if errors.Is(err, c) {
			t.Errorf("errors.Is(%v, %s) = true", err, c)
		}
	}
	if ClassOf(err) != ErrThrottled || ClassOf(errors.New("plain")) != ErrOther {
		t.Errorf("ClassOf: %s, %s", ClassOf(err), ClassOf(errors.New("plain")))
	}
	if got := err.Error(); got != "scope x: throttled (HTTP 429): slow down" {
		t.Errorf("text %q", got)
	}
}
