package migrate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pressly/goose/v3"
)

// createTemplate is a new migration: a comment for the reason, and Up and Down sections
// whose statements sit in StatementBegin/End blocks, so a PL/pgSQL body added later is
// not split at its semicolons.
const createTemplate = `-- %s: say here why this migration exists and what it changes.

-- +goose Up
-- +goose StatementBegin
SELECT 'replace with the Up statements';
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
SELECT 'replace with the statements that undo Up';
-- +goose StatementEnd
`

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// Create writes the next numbered migration file, NNNNN_name.sql, into dir and returns its
// path and version. The version follows the highest one in dir, with as many digits as
// the existing files use (five when there are none). It never overwrites a file.
func Create(dir, name string) (string, int64, error) {
	slug := strings.Trim(nonWord.ReplaceAllString(strings.ToLower(name), "_"), "_")
	if slug == "" {
		return "", 0, fmt.Errorf("%w, got %q", ErrInvalidName, name)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", 0, fmt.Errorf("reading the migrations folder: %w", err)
	}
	var last int64
	width := 5
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".sql" {
			continue
		}
		v, err := goose.NumericComponent(e.Name())
		if err != nil {
			continue
		}
		if v > last {
			last = v
			width = len(strings.SplitN(e.Name(), "_", 2)[0])
		}
	}
	version := last + 1
	file := filepath.Join(dir, fmt.Sprintf("%0*d_%s.sql", width, version, slug))
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return "", 0, fmt.Errorf("%s already exists", file)
	}
	if err != nil {
		return "", 0, err
	}
	if _, err := fmt.Fprintf(f, createTemplate, slug); err != nil {
		f.Close()
		return "", 0, err
	}
	return file, version, f.Close()
}
