package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// NewCmdServe builds `immutag serve`. Placeholder until its issue lands.
func NewCmdServe(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "serve",
		Short:  "Run scheduled scans, metrics and the ACR webhook (issue 05)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("immutag serve is not implemented in this build yet")
		},
	}
}
