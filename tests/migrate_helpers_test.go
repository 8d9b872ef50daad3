package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// migrateTimeout bounds one run of the binary; the slowest waits a few seconds for a lock.
const migrateTimeout = 90 * time.Second

// migrateRun is one finished run of `secretsdb migrate`.
type migrateRun struct {
	code   int
	stdout string
	stderr string
}

func (r migrateRun) String() string {
	return "exit " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// migrateEnv is the environment without anything that could point the binary at another
// database than the one on its command line.
func migrateEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "DATABASE_URL" || strings.HasPrefix(name, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// migrateCmd prepares `secretsdb migrate args...` without starting it.
func migrateCmd(ctx context.Context, t *testing.T, env []string, args ...string) (
	*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, secretsdbBinary(t), append([]string{"migrate"}, args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// waitRun waits for cmd and collects its outcome; an exit code is an outcome, not an error.
func waitRun(t *testing.T, cmd *exec.Cmd, stdout, stderr *bytes.Buffer) migrateRun {
	t.Helper()
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running secretsdb %v: %v\nstderr:\n%s", cmd.Args[1:], err, stderr)
	}
	return migrateRun{
		code:   cmd.ProcessState.ExitCode(),
		stdout: stdout.String(),
		stderr: stderr.String(),
	}
}

// runMigrate runs `secretsdb migrate args...` against databaseURL.
func runMigrate(t *testing.T, databaseURL string, args ...string) migrateRun {
	t.Helper()
	return runMigrateEnv(t, migrateEnv(), append(args, "--database-url", databaseURL)...)
}

// runMigrateEnv runs `secretsdb migrate args...` with the given environment.
func runMigrateEnv(t *testing.T, env []string, args ...string) migrateRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	cmd, stdout, stderr := migrateCmd(ctx, t, env, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting secretsdb: %v", err)
	}
	return waitRun(t, cmd, stdout, stderr)
}

// migrateDoc is the JSON document of `secretsdb migrate --json`, the fields the tests read.
type migrateDoc struct {
	Command  string `json:"command"`
	OK       bool   `json:"ok"`
	ExitCode int    `json:"exit_code"`
	Error    *struct {
		Kind      string `json:"kind"`
		Message   string `json:"message"`
		Migration *struct {
			Version       int64  `json:"version"`
			File          string `json:"file"`
			Direction     string `json:"direction"`
			Line          int    `json:"line"`
			Column        int    `json:"column"`
			StatementLine int    `json:"statement_line"`
			SQLState      string `json:"sqlstate"`
			Message       string `json:"message"`
			Transactional bool   `json:"transactional"`
			Advice        string `json:"advice"`
			LockWait      *struct {
				Mode     string `json:"mode"`
				Relation string `json:"relation"`
				Blockers []struct {
					PID        int32    `json:"pid"`
					HeldModes  []string `json:"held_modes"`
					QueuedMode string   `json:"queued_mode"`
				} `json:"blockers"`
			} `json:"lock_wait"`
		} `json:"migration"`
		Mismatches []migrateMismatch `json:"mismatches"`
		OutOfOrder []migrateFileRef  `json:"out_of_order"`
		LockHolder *struct {
			PID int32 `json:"pid"`
		} `json:"lock_holder"`
		Interrupted *struct {
			Version       int64  `json:"version"`
			File          string `json:"file"`
			Transactional bool   `json:"transactional"`
			Recorded      bool   `json:"recorded"`
			LockReleased  bool   `json:"lock_released"`
		} `json:"interrupted"`
		Hint string `json:"hint"`
	} `json:"error"`

	Database           string            `json:"database"`
	VersionBefore      int64             `json:"version_before"`
	VersionAfter       int64             `json:"version_after"`
	NothingToDo        bool              `json:"nothing_to_do"`
	Applied            []migrateApplied  `json:"applied"`
	ChecksumsRecorded  []migrateFileRef  `json:"checksums_recorded"`
	ChecksumMismatches []migrateMismatch `json:"checksum_mismatches"`

	Version    int64 `json:"version"`
	Latest     int64 `json:"latest"`
	Pending    int   `json:"pending"`
	Migrations []struct {
		Version    int64   `json:"version"`
		File       string  `json:"file"`
		State      string  `json:"state"`
		AppliedAt  *string `json:"applied_at"`
		OutOfOrder bool    `json:"out_of_order"`
		Checksum   string  `json:"checksum"`
	} `json:"migrations"`

	Checked    int               `json:"checked"`
	Mismatches []migrateMismatch `json:"mismatches"`
	Unrecorded []migrateFileRef  `json:"unrecorded"`

	File     string `json:"file"`
	Files    int    `json:"files"`
	Problems []struct {
		File string `json:"file"`
		Line int    `json:"line"`
		Rule string `json:"rule"`
	} `json:"problems"`
}

type migrateApplied struct {
	Version   int64  `json:"version"`
	File      string `json:"file"`
	Direction string `json:"direction"`
}

type migrateFileRef struct {
	Version int64  `json:"version"`
	File    string `json:"file"`
}

type migrateMismatch struct {
	Version      int64  `json:"version"`
	File         string `json:"file"`
	Problem      string `json:"problem"`
	NewerRelease bool   `json:"newer_release"`
}

// parseDoc decodes the single JSON document a --json run printed, and checks that its
// exit_code agrees with the process's.
func parseDoc(t *testing.T, r migrateRun) migrateDoc {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var doc migrateDoc
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not a JSON document: %v\n%s", err, r)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("stdout holds more than one JSON document\n%s", r)
	}
	if doc.ExitCode != r.code {
		t.Fatalf("exit_code %d in the document, process exited %d\n%s", doc.ExitCode, r.code, r)
	}
	return doc
}

// writeMigrations writes files (name -> content) into dir, creating it when needed, and
// returns dir.
func writeMigrations(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// simpleMigration is a migration file creating (Up) and dropping (Down) one table.
func simpleMigration(table string) string {
	return "-- Creates " + table + " for a migration test.\n\n" +
		"-- +goose Up\n" +
		"CREATE TABLE public." + table + " (\n    id integer NOT NULL\n);\n\n" +
		"-- +goose Down\n" +
		"DROP TABLE public." + table + ";\n"
}

// dbCtx bounds one statement run by a test.
func dbCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
