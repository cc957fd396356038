package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// NewCmdReport builds `immutag report` (render, diff). Placeholder until issue 04 lands.
func NewCmdReport(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "report",
		Short:  "Re-render or compare saved JSON reports (issue 04)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("immutag report is not implemented in this build yet")
		},
	}
}
