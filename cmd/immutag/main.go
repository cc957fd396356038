// Command immutag audits and enforces container image tag immutability.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/immutag/immutag/internal/cli"
	"github.com/immutag/immutag/internal/redact"
)

// codeInterrupted is the exit code of an interrupted run (README's table).
const codeInterrupted = 130

func main() {
	f := cli.NewFactory(cli.SystemIO())
	os.Exit(run(os.Stderr, os.Exit, func(ctx context.Context) error {
		return cli.NewRootCmd(f).ExecuteContext(ctx)
	}))
}

// run executes one command under a context the first Ctrl-C or SIGTERM
// cancels, so a fix stops starting changes and journals what it wrote. A
// command blocked where cancellation does not reach (a registry call that
// ignores it, a stuck disk) would otherwise keep the process alive until
// kill -9: the second signal exits at once with 130, after saying what may be
// unfinished.
func run(stderr io.Writer, exit func(int), exec func(context.Context) error) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go watchSignals(sigs, done, cancel, stderr, exit)

	err := exec(ctx)
	if err != nil && err.Error() != "" {
		fmt.Fprintln(stderr, "immutag: "+redact.Printable(redact.String(err.Error())))
	}
	return cli.ExitCode(err)
}

// watchSignals cancels the run on the first signal and exits on the second.
// It returns when done closes (the command ended by itself).
func watchSignals(sigs <-chan os.Signal, done <-chan struct{}, cancel context.CancelFunc, stderr io.Writer, exit func(int)) {
	select {
	case s := <-sigs:
		fmt.Fprintf(stderr, "immutag: %s: stopping; nothing new starts, calls in flight are cancelled (signal again to exit at once)\n", signalName(s))
		cancel()
	case <-done:
		return
	}
	select {
	case s := <-sigs:
		fmt.Fprintf(stderr, "immutag: %s again: exiting now without waiting. Unfinished: a fix's change in flight may be written but not read back "+
			"(its journal intent has no outcome; the next fix run records it as interrupted and reads the setting again), "+
			"and no report was written. Run the command again to finish.\n", signalName(s))
		exit(codeInterrupted)
	case <-done:
	}
}

func signalName(s os.Signal) string {
	if s == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "interrupted"
}
