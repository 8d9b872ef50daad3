package migrate

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/pressly/goose/v3"
)

// Lint rules, as reported in Problem.Rule.
const (
	// RuleGooseSyntax: an annotation goose would reject or misread.
	RuleGooseSyntax = "goose-syntax"
	// RuleDollarQuote: a dollar-quoted body outside StatementBegin/StatementEnd, which
	// goose's splitter would cut at its first semicolon.
	RuleDollarQuote = "dollar-quote-outside-block"
	// RuleSearchPath: a function or procedure without SET search_path, whose unqualified
	// names would then resolve through the caller's search_path.
	RuleSearchPath = "routine-search-path"
	// RuleIndexConcurrently: CREATE INDEX without CONCURRENTLY on a table the file did not
	// create, which blocks every write to that table while the index builds.
	RuleIndexConcurrently = "index-not-concurrent"
	// RuleConcurrentlyInTx: CONCURRENTLY in a file that runs in a transaction, which
	// PostgreSQL refuses.
	RuleConcurrentlyInTx = "concurrently-in-transaction"
)

// Problem is one finding of Lint.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Rule, p.Message)
}

// Lint checks every migration file in fsys (the *.sql files goose would run) and returns the
// problems found, ordered by file and line, and the number of files checked.
func Lint(fsys fs.FS) ([]Problem, int, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, 0, err
	}
	var problems []Problem
	checked := 0
	for _, name := range names {
		if _, err := goose.NumericComponent(path.Base(name)); err != nil {
			continue
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, 0, err
		}
		problems = append(problems, LintFile(name, src)...)
		checked++
	}
	return problems, checked, nil
}

// statement is one statement of a migration file as goose would send it.
type statement struct {
	toks    []token
	section section
	inBlock bool
}

func (s statement) line() int { return s.toks[0].line }

// LintFile checks one migration file.
func LintFile(name string, src []byte) []Problem {
	text := string(src)
	lay := parseLayout(name, text)
	toks := scanSQL(text)
	problems := append([]Problem(nil), lay.problems...)
	add := func(line int, rule, format string, args ...any) {
		problems = append(problems, Problem{
			File: name, Line: line, Rule: rule, Message: fmt.Sprintf(format, args...),
		})
	}

	for _, t := range toks {
		if t.kind == tokDollarString && lay.at(t.line).block < 0 {
			add(t.line, RuleDollarQuote,
				"dollar-quoted text outside -- +goose StatementBegin/StatementEnd; goose would "+
					"split it at its first semicolon")
		}
	}

	stmts := splitStatements(toks, lay)
	created := map[section]map[string]bool{sectionUp: {}, sectionDown: {}}
	pinned := pinnedRoutines(stmts)
	for _, st := range stmts {
		if st.section == sectionNone {
			add(st.line(), RuleGooseSyntax, "SQL before -- +goose Up is never run")
			continue
		}
		if tbl, ok := createdTable(st.toks); ok {
			created[st.section][tbl] = true
		}
		if routine, ok := createdRoutine(st.toks); ok && !setsSearchPath(st.toks) &&
			!pinned[st.section][routine.name] {
			add(st.line(), RuleSearchPath,
				"%s %s has no SET search_path; pin it (SET search_path = pg_catalog, pg_temp) "+
					"so callers' search_path cannot change what its names mean",
				strings.ToLower(routine.kind), routine.name)
		}
		if hasWord(st.toks, "CONCURRENTLY") && !lay.noTx {
			add(st.line(), RuleConcurrentlyInTx,
				"CONCURRENTLY cannot run inside a transaction; put the statement alone in a file "+
					"marked -- +goose NO TRANSACTION")
		}
		idx, isIndex := createdIndex(st.toks)
		if isIndex && !idx.concurrently && !created[st.section][idx.table] {
			add(st.line(), RuleIndexConcurrently,
				"CREATE INDEX on %s, which this file did not create, blocks writes to it while "+
					"the index builds; use CREATE INDEX CONCURRENTLY in a file marked "+
					"-- +goose NO TRANSACTION", idx.table)
		}
	}

	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
	return problems
}

// splitStatements groups tokens into statements: a StatementBegin/End block is one
// statement, and elsewhere a semicolon ends one.
func splitStatements(toks []token, lay *layout) []statement {
	var out []statement
	var cur statement
	curBlock := -1
	flush := func() {
		if len(cur.toks) > 0 {
			out = append(out, cur)
		}
		cur = statement{}
	}
	for _, t := range toks {
		info := lay.at(t.line)
		if len(cur.toks) > 0 && (info.block != curBlock || info.section != cur.section) {
			flush()
		}
		if len(cur.toks) == 0 {
			cur.section, cur.inBlock, curBlock = info.section, info.block >= 0, info.block
		}
		cur.toks = append(cur.toks, t)
		if t.kind == tokPunct && t.text == ";" && info.block < 0 {
			flush()
		}
	}
	flush()
	return out
}

// leadingWords returns up to n leading keywords of toks, upper-cased, stopping at the first
// token that is not a plain word.
func leadingWords(toks []token, n int) []string {
	var out []string
	for _, t := range toks {
		if t.kind != tokWord || len(out) == n {
			break
		}
		out = append(out, strings.ToUpper(t.text))
	}
	return out
}

func hasWord(toks []token, kw string) bool {
	for _, t := range toks {
		if t.word(kw) {
			return true
		}
	}
	return false
}

// qualifiedName reads an object name starting at toks[i] and returns it normalised
// (unquoted names folded to lower case, public assumed when no schema is given).
func qualifiedName(toks []token, i int) (string, bool) {
	var parts []string
	for i < len(toks) {
		t := toks[i]
		switch t.kind {
		case tokWord:
			parts = append(parts, strings.ToLower(t.text))
		case tokQuotedIdent:
			parts = append(parts, strings.ReplaceAll(t.text[1:len(t.text)-1], `""`, `"`))
		default:
			return "", false
		}
		i++
		if i < len(toks) && toks[i].kind == tokPunct && toks[i].text == "." {
			i++
			continue
		}
		break
	}
	switch len(parts) {
	case 1:
		return "public." + parts[0], true
	case 2:
		return parts[0] + "." + parts[1], true
	}
	return "", false
}

// skipWords advances i past any of the given keywords, in any order.
func skipWords(toks []token, i int, kws ...string) int {
	for i < len(toks) {
		matched := false
		for _, kw := range kws {
			if toks[i].word(kw) {
				matched = true
				break
			}
		}
		if !matched {
			return i
		}
		i++
	}
	return i
}

// createdTable returns the table or materialized view a CREATE statement makes.
func createdTable(toks []token) (string, bool) {
	if len(toks) == 0 || !toks[0].word("CREATE") {
		return "", false
	}
	i := skipWords(toks, 1, "OR", "REPLACE", "GLOBAL", "LOCAL", "TEMP", "TEMPORARY", "UNLOGGED")
	switch {
	case i < len(toks) && toks[i].word("TABLE"):
		i++
	case i+1 < len(toks) && toks[i].word("MATERIALIZED") && toks[i+1].word("VIEW"):
		i += 2
	default:
		return "", false
	}
	if i+2 < len(toks) && toks[i].word("IF") && toks[i+1].word("NOT") && toks[i+2].word("EXISTS") {
		i += 3
	}
	name, ok := qualifiedName(toks, i)
	return name, ok
}

type routineRef struct{ kind, name string }

// createdRoutine returns the function or procedure a CREATE statement makes.
func createdRoutine(toks []token) (routineRef, bool) {
	if len(toks) == 0 || !toks[0].word("CREATE") {
		return routineRef{}, false
	}
	i := skipWords(toks, 1, "OR", "REPLACE")
	if i >= len(toks) || (!toks[i].word("FUNCTION") && !toks[i].word("PROCEDURE")) {
		return routineRef{}, false
	}
	kind := strings.ToUpper(toks[i].text)
	name, ok := qualifiedName(toks, i+1)
	return routineRef{kind: kind, name: name}, ok
}

// setsSearchPath reports whether a routine definition carries SET search_path = ... or
// SET search_path TO ...; FROM CURRENT copies the migrating session's path, which pins
// nothing the file can see.
func setsSearchPath(toks []token) bool {
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].word("SET") && toks[i+1].word("search_path") &&
			(toks[i+2].word("TO") || (toks[i+2].kind == tokPunct && toks[i+2].text == "=")) {
			return true
		}
	}
	return false
}

// pinnedRoutines finds routines given a search_path by ALTER FUNCTION/PROCEDURE/ROUTINE
// ... SET search_path in the same section.
func pinnedRoutines(stmts []statement) map[section]map[string]bool {
	out := map[section]map[string]bool{sectionUp: {}, sectionDown: {}}
	for _, st := range stmts {
		w := leadingWords(st.toks, 2)
		if len(w) < 2 || w[0] != "ALTER" ||
			(w[1] != "FUNCTION" && w[1] != "PROCEDURE" && w[1] != "ROUTINE") {
			continue
		}
		name, ok := qualifiedName(st.toks, 2)
		if ok && setsSearchPath(st.toks) && out[st.section] != nil {
			out[st.section][name] = true
		}
	}
	return out
}

type indexRef struct {
	table        string
	concurrently bool
}

// createdIndex reads CREATE [UNIQUE] INDEX [CONCURRENTLY] [[IF NOT EXISTS] name] ON
// [ONLY] table.
func createdIndex(toks []token) (indexRef, bool) {
	if len(toks) == 0 || !toks[0].word("CREATE") {
		return indexRef{}, false
	}
	i := skipWords(toks, 1, "UNIQUE")
	if i >= len(toks) || !toks[i].word("INDEX") {
		return indexRef{}, false
	}
	var ref indexRef
	for i++; i < len(toks); i++ {
		if toks[i].word("CONCURRENTLY") {
			ref.concurrently = true
		}
		if toks[i].word("ON") {
			name, ok := qualifiedName(toks, skipWords(toks, i+1, "ONLY"))
			ref.table = name
			return ref, ok
		}
	}
	return indexRef{}, false
}
