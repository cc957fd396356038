// Command immutag audits and enforces container image tag immutability.
package main

import (
	"github.com/immutag/immutag/internal/redact"

	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/immutag/immutag/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	f := cli.NewFactory(cli.SystemIO())
	err := cli.NewRootCmd(f).ExecuteContext(ctx)
	stop()
	if err != nil && err.Error() != "" {
		fmt.Fprintln(os.Stderr, "immutag: "+redact.Printable(redact.String(err.Error())))
	}
	os.Exit(cli.ExitCode(err))
}
