// Command secretsdb applies secretsdb's migrations and serves its API. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/secretsdb/secretsdb/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
