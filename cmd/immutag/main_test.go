//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary act as immutag's main with a command that
// blocks where cancellation does not reach (it ignores its context), the case
// that used to need kill -9.
const childEnv = "IMMUTAG_TEST_SIGNAL_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "blocked":
		os.Exit(run(os.Stderr, os.Exit, func(ctx context.Context) error {
			fmt.Println("ready")
			<-ctx.Done()
			fmt.Println("cancelled")
			select {} // a write stuck past cancellation
		}))
	case "cooperative":
		os.Exit(run(os.Stderr, os.Exit, func(ctx context.Context) error {
			fmt.Println("ready")
			<-ctx.Done()
			fmt.Println("cancelled")
			return ctx.Err()
		}))
	}
	os.Exit(m.Run())
}

// startChild runs the test binary as a child in the given mode and returns it
// once it reports that it is running, with its stdout lines and its stderr.
func startChild(t *testing.T, mode string) (*exec.Cmd, *bufio.Scanner, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := bufio.NewScanner(out)
	expectLine(t, lines, "ready")
	return cmd, lines, &stderr
}

func expectLine(t *testing.T, lines *bufio.Scanner, want string) {
	t.Helper()
	if !lines.Scan() || lines.Text() != want {
		t.Fatalf("child printed %q (%v), want %q", lines.Text(), lines.Err(), want)
	}
}

// waitExit waits for the child's exit code. The ceiling only turns a hang
// (the bug: the second signal ignored) into a failure instead of a stuck test.
func waitExit(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) int {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- cmd.Wait() }()
	select {
	case err := <-res:
		var ee *exec.ExitError
		if err == nil {
			return 0
		}
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		t.Fatalf("wait: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatalf("the process did not exit after the second signal; stderr:\n%s", stderr)
	}
	return -1
}

func TestSecondSignalExitsAtOnce(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, lines, stderr := startChild(t, "blocked")
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// The first signal cancels the run's context; the command stays blocked.
			expectLine(t, lines, "cancelled")
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := waitExit(t, cmd, stderr); code != codeInterrupted {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, codeInterrupted, stderr)
			}
			msg := stderr.String()
			for _, want := range []string{"stopping", "again: exiting now", "journal", "Run the command again"} {
				if !strings.Contains(msg, want) {
					t.Errorf("stderr does not say %q:\n%s", want, msg)
				}
			}
		})
	}
}

// One signal and a command that honours cancellation: exit 130 through the
// usual path, without the forced-exit warning.
func TestFirstSignalCancelsTheRun(t *testing.T) {
	cmd, lines, stderr := startChild(t, "cooperative")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	expectLine(t, lines, "cancelled")
	if code := waitExit(t, cmd, stderr); code != codeInterrupted {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, codeInterrupted, stderr)
	}
	if msg := stderr.String(); !strings.Contains(msg, "stopping") || strings.Contains(msg, "exiting now") {
		t.Fatalf("stderr:\n%s", msg)
	}
}
