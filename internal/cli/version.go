package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is the release this binary was built as. `make build` sets it from git describe
// with -ldflags "-X github.com/secretsdb/secretsdb/internal/cli.version=..."; it is a
// variable only because -X can set nothing else, and nothing assigns it at run time.
var version = "dev"

// Version returns the release this binary was built as: the -ldflags value, else the
// module version `go install ...@vX.Y.Z` records, else "dev".
func Version() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" &&
		info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}

// versionTemplate is the output of both `secretsdb version` and `secretsdb --version`.
const versionTemplate = "secretsdb {{.Version}}\n"

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(g.stdout, "secretsdb %s\n", Version())
			return err
		},
	}
}
