package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// binaryVersion is the version the tests' secretsdb binary is stamped with, the way
// `make build` stamps a release.
const binaryVersion = "v0.0.0-test"

var (
	binaryOnce sync.Once
	binaryDir  string
	binaryPath string
	binaryErr  error
)

// secretsdbBinary builds ./cmd/secretsdb once per test binary, for the tests that drive
// the command as a process. TestMain removes it at the end.
func secretsdbBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			binaryErr = fmt.Errorf("the go command is needed to build secretsdb: %w", err)
			return
		}
		binaryDir, err = os.MkdirTemp("", "secretsdb-test-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		bin := filepath.Join(binaryDir, "secretsdb")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		ldflags := "-X github.com/secretsdb/secretsdb/internal/cli.version=" + binaryVersion
		out, err := exec.CommandContext(ctx, goBin, "build", "-ldflags", ldflags, "-o", bin,
			"../cmd/secretsdb").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build ./cmd/secretsdb: %w\n%s", err, out)
			return
		}
		binaryPath = bin
	})
	if binaryErr != nil {
		t.Fatalf("building secretsdb: %v", binaryErr)
	}
	return binaryPath
}

// removeBinary deletes the folder secretsdbBinary built into, if it did.
func removeBinary() {
	if binaryDir != "" {
		_ = os.RemoveAll(binaryDir)
	}
}
