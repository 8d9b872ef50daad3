package migrate

import (
	"fmt"
	"strings"
)

// section is the part of a migration file a line belongs to.
type section int

const (
	sectionNone section = iota // before -- +goose Up
	sectionUp
	sectionDown
)

func (s section) String() string {
	switch s {
	case sectionUp:
		return "Up"
	case sectionDown:
		return "Down"
	}
	return "header"
}

// lineInfo places one line of a migration file.
type lineInfo struct {
	section    section
	block      int // StatementBegin/End block the line is inside, -1 when outside one
	annotation bool
}

// layout is what goose's annotations say about a migration file. It follows goose's own
// parser (annotations are whole-line comments "-- +goose ..." without indentation), so the
// lint and the failure locator see the file as goose runs it.
type layout struct {
	lines    []lineInfo // lines[n-1] describes line n
	upLine   int        // line of -- +goose Up, 0 when absent
	downLine int        // line of -- +goose Down, 0 when absent
	noTx     bool       // -- +goose NO TRANSACTION is present
	problems []Problem  // annotation errors goose would refuse the file for
}

// splitLines splits src as bufio.ScanLines does: on \n, dropping a \r before it.
func splitLines(src string) []string {
	lines := strings.Split(src, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// annotationOf returns the goose annotation on line, "" when the line carries none.
func annotationOf(line string) (string, error) {
	if !strings.HasPrefix(strings.TrimSpace(line), "--") || !strings.Contains(line, "+goose") {
		return "", nil
	}
	if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
		return "", fmt.Errorf("goose annotations must start the line, got %q", line)
	}
	cmd := strings.ReplaceAll(line, "--", "")
	cmd = strings.TrimSpace(strings.Replace(cmd, "+goose", "", 1))
	for _, known := range []string{
		"Up", "Down", "StatementBegin", "StatementEnd", "NO TRANSACTION", "ENVSUB ON", "ENVSUB OFF",
	} {
		if strings.EqualFold(cmd, known) {
			return known, nil
		}
	}
	return "", fmt.Errorf("unknown goose annotation %q", cmd)
}

// parseLayout reads the annotations of the migration file name.
func parseLayout(name, src string) *layout {
	lines := splitLines(src)
	l := &layout{lines: make([]lineInfo, len(lines))}
	problem := func(n int, format string, args ...any) {
		l.problems = append(l.problems, Problem{
			File: name, Line: n, Rule: RuleGooseSyntax, Message: fmt.Sprintf(format, args...),
		})
	}

	sec, block, blocks, blockStart := sectionNone, -1, 0, 0
	for i, text := range lines {
		n := i + 1
		ann, err := annotationOf(text)
		if err != nil {
			problem(n, "%v", err)
		}
		l.lines[i] = lineInfo{section: sec, block: block, annotation: ann != ""}
		switch ann {
		case "Up":
			if sec != sectionNone {
				problem(n, "a second -- +goose Up")
			}
			sec, l.upLine = sectionUp, n
		case "Down":
			if sec != sectionUp || block >= 0 {
				problem(n, "-- +goose Down must follow -- +goose Up, outside a statement block")
			}
			sec, l.downLine = sectionDown, n
		case "StatementBegin":
			if sec == sectionNone || block >= 0 {
				problem(n, "-- +goose StatementBegin must follow Up or Down, outside another block")
			}
			block, blockStart = blocks, n
			blocks++
		case "StatementEnd":
			if block < 0 {
				problem(n, "-- +goose StatementEnd without a StatementBegin")
			}
			block = -1
		case "NO TRANSACTION":
			l.noTx = true
		}
		l.lines[i].section = sec
	}
	if l.upLine == 0 {
		problem(1, "no -- +goose Up annotation: goose cannot run this file")
	}
	if block >= 0 {
		problem(blockStart, "-- +goose StatementBegin is never closed by StatementEnd")
	}
	return l
}

// at describes line n, 1-based; lines past the end belong to the last section.
func (l *layout) at(n int) lineInfo {
	if n < 1 || len(l.lines) == 0 {
		return lineInfo{block: -1}
	}
	if n > len(l.lines) {
		last := l.lines[len(l.lines)-1]
		return lineInfo{section: last.section, block: -1}
	}
	return l.lines[n-1]
}
