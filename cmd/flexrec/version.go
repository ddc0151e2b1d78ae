package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/flexrec/flexrec/export"
)

func newVersionCmd(s io3) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print flexrec's version, VCS revision and Go version",
		Long: `Print flexrec's version (the module version, or 0.1.0-dev for a build from a
checkout, plus the VCS revision it was built from), the revision's time and
whether the tree was modified, and the Go version. Manifests and reports
record the same version. 'flexrec --version' prints the first line only.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(s.out, "flexrec %s\n", export.Version())
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, st := range bi.Settings {
					switch st.Key {
					case "vcs.revision", "vcs.time", "vcs.modified":
						fmt.Fprintf(s.out, "%s %s\n", st.Key, st.Value)
					}
				}
			}
			fmt.Fprintf(s.out, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
