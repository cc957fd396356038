package cli

import (
	"context"
	"errors"
)

// Exit codes (contract).
const (
	CodeOK         = 0
	CodeError      = 1
	CodeIncomplete = 2
	CodeDrift      = 3
)

// ExitError carries a specific exit code. Message, when empty, prints nothing.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error returned by a command to the process exit code.
// This is the only place that decides exit codes.
func ExitCode(err error) int {
	if err == nil {
		return CodeOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if errors.Is(err, context.Canceled) {
		return 130
	}
	return CodeError
}
