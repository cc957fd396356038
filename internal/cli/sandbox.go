package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// NewCmdSandbox builds `immutag sandbox`. Placeholder until its issue lands.
func NewCmdSandbox(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "sandbox",
		Short:  "Serve the registry emulators on loopback for hands-on use (issue 06)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("immutag sandbox is not implemented in this build yet")
		},
	}
}
