package migrate

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// location is where an error points inside a migration file. Lines and columns are 1-based;
// Column is in characters and 0 when only the statement is known.
type location struct {
	Line          int
	Column        int
	StatementLine int
}

// findStatement returns the byte offset in text (LF line ends) of stmt, a statement as
// goose sends it: whole lines of the file, joined by \n and trimmed. It searches the given
// section only and requires the match to start and end a line, so a shorter statement
// quoted in a comment or inside a longer one is not taken for it.
func findStatement(text string, lay *layout, sec section, stmt string) (int, bool) {
	if stmt == "" {
		return 0, false
	}
	from, to := 0, len(text)
	lineOffset := func(n int) int {
		off := 0
		for i := 1; i < n && off >= 0; i++ {
			next := strings.IndexByte(text[off:], '\n')
			if next < 0 {
				return len(text)
			}
			off += next + 1
		}
		return off
	}
	switch sec {
	case sectionUp:
		if lay.upLine == 0 {
			return 0, false
		}
		from = lineOffset(lay.upLine + 1)
		if lay.downLine > 0 {
			to = lineOffset(lay.downLine)
		}
	case sectionDown:
		if lay.downLine == 0 {
			return 0, false
		}
		from = lineOffset(lay.downLine + 1)
	}

	for off := from; off < to; {
		i := strings.Index(text[off:to], stmt)
		if i < 0 {
			return 0, false
		}
		start := off + i
		end := start + len(stmt)
		lineStart := strings.LastIndexByte(text[:start], '\n') + 1
		lineEnd := strings.IndexByte(text[end:], '\n')
		if lineEnd < 0 {
			lineEnd = len(text) - end
		}
		if strings.TrimSpace(text[lineStart:start]) == "" &&
			strings.TrimSpace(text[end:end+lineEnd]) == "" {
			return start, true
		}
		off = start + 1
	}
	return 0, false
}

// lineCol converts a byte offset in text to a 1-based line and character column.
func lineCol(text string, off int) (int, int) {
	line := strings.Count(text[:off], "\n") + 1
	lineStart := strings.LastIndexByte(text[:off], '\n') + 1
	return line, utf8.RuneCountInString(text[lineStart:off]) + 1
}

// runeOffset returns the byte offset of the n-th character (0-based) of s, clamped to s.
func runeOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// doBlockLine matches the context PL/pgSQL gives errors raised inside a DO block.
var doBlockLine = regexp.MustCompile(`PL/pgSQL function inline_code_block line (\d+)`)

// locateError maps an error in stmt to its place in the file src. position is the
// server's 1-based character position within stmt (PgError.Position, 0 when absent); where
// is the error's context (PgError.Where), which for errors inside a DO block names the line
// within the block's body.
func locateError(src, stmt string, sec section, position int, where string) (location, bool) {
	text := strings.ReplaceAll(src, "\r\n", "\n")
	lay := parseLayout("", text)
	start, ok := findStatement(text, lay, sec, stmt)
	if !ok {
		return location{}, false
	}
	var loc location
	loc.StatementLine, _ = lineCol(text, start)
	loc.Line = loc.StatementLine

	switch m := doBlockLine.FindStringSubmatch(where); {
	case position > 0:
		loc.Line, loc.Column = lineCol(text, start+runeOffset(stmt, position-1))
	case m != nil:
		// PL/pgSQL counts body lines from the opening dollar quote's line.
		n, _ := strconv.Atoi(m[1])
		for _, t := range scanSQL(stmt) {
			if t.kind == tokDollarString && n > 0 {
				loc.Line = loc.StatementLine + t.line - 1 + n - 1
				break
			}
		}
	}
	return loc, true
}
