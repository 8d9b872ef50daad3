package migrate

import (
	"strings"
	"testing"
)

func TestLocateError(t *testing.T) {
	t.Parallel()
	const file = "-- Two statements and a comment quoting the second.\n" +
		"-- SELECT 2;\n" +
		"-- +goose Up\n" +
		"SELECT 1;\n" +
		"\n" +
		"  SELECT 'é',\n" +
		"      bad_column;\n" +
		"-- +goose Down\n" +
		"  SELECT 'é',\n" +
		"      bad_column;\n"
	const stmt = "SELECT 'é',\n      bad_column;"
	position := strings.Index(stmt, "bad_column") // bytes; 'é' is 2 bytes, so count runes
	position = len([]rune(stmt[:position])) + 1

	for _, tc := range []struct {
		name string
		src  string
		sec  section
		want location
	}{
		{"Up", file, sectionUp, location{Line: 7, Column: 7, StatementLine: 6}},
		{"Down", file, sectionDown, location{Line: 10, Column: 7, StatementLine: 9}},
		{"CRLF", strings.ReplaceAll(file, "\n", "\r\n"), sectionUp,
			location{Line: 7, Column: 7, StatementLine: 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := locateError(tc.src, stmt, tc.sec, position, "")
			if !ok || got != tc.want {
				t.Errorf("locateError = %+v, %v; want %+v", got, ok, tc.want)
			}
		})
	}
}

func TestLocateErrorSkipsQuotedCopies(t *testing.T) {
	t.Parallel()
	// The statement also appears inside a comment line and inside a longer statement; only
	// the copy that starts and ends a line is the one goose sent.
	const file = "-- +goose Up\n" +
		"-- SELECT 2;\n" +
		"SELECT 1; SELECT 2;\n" +
		"SELECT 2;\n"
	got, ok := locateError(file, "SELECT 2;", sectionUp, 8, "")
	if want := (location{Line: 4, Column: 8, StatementLine: 4}); !ok || got != want {
		t.Errorf("locateError = %+v, %v; want %+v", got, ok, want)
	}
}

func TestLocateErrorInsideDoBlock(t *testing.T) {
	t.Parallel()
	const file = "-- +goose Up\n" +
		"-- +goose StatementBegin\n" +
		"DO $$\n" +
		"BEGIN\n" +
		"    PERFORM no_such_function();\n" +
		"END\n" +
		"$$;\n" +
		"-- +goose StatementEnd\n"
	stmt := "DO $$\nBEGIN\n    PERFORM no_such_function();\nEND\n$$;"
	where := "PL/pgSQL function inline_code_block line 3 at PERFORM"
	got, ok := locateError(file, stmt, sectionUp, 0, where)
	if want := (location{Line: 5, StatementLine: 3}); !ok || got != want {
		t.Errorf("locateError = %+v, %v; want %+v", got, ok, want)
	}
}

func TestLocateErrorUnknownStatement(t *testing.T) {
	t.Parallel()
	if got, ok := locateError("-- +goose Up\nSELECT 1;\n", "SELECT 3;", sectionUp, 1, ""); ok {
		t.Errorf("locateError found %+v for a statement not in the file", got)
	}
}
