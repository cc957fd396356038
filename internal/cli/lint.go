package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// NewCmdLint builds `immutag lint`. Placeholder until its issue lands.
func NewCmdLint(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "lint",
		Short:  "Find CI workflows that would push a mutable tag (issue 07)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("immutag lint is not implemented in this build yet")
		},
	}
}
