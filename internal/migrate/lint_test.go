package migrate

import (
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/secretsdb/secretsdb/migrations"
)

func TestLintShippedMigrations(t *testing.T) {
	t.Parallel()
	problems, files, err := Lint(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no migration files checked")
	}
	for _, p := range problems {
		t.Errorf("%s", p)
	}
}

func TestLintFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		src  string
		want []string // "line rule"
	}{
		{
			name: "DollarQuoteOutsideBlock",
			src: "-- +goose Up\nDO $$ BEGIN PERFORM 1; END $$;\n" +
				"-- +goose StatementBegin\nDO $body$ BEGIN PERFORM 1; END $body$;\n" +
				"-- +goose StatementEnd\n",
			want: []string{"2 " + RuleDollarQuote},
		},
		{
			name: "DollarsInStringsCommentsAndParameters",
			src: "-- +goose Up\n-- costs $$5\nSELECT '$$', E'\\'$$', \"a$$b\", $1;\n" +
				"/* $$ /* nested $$ */ $$ */\nSELECT 1;\n",
		},
		{
			name: "RoutineWithoutSearchPath",
			src: "-- +goose Up\n-- +goose StatementBegin\n" +
				"CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n" +
				"-- +goose StatementEnd\n" +
				"-- +goose StatementBegin\n" +
				"CREATE PROCEDURE p() LANGUAGE plpgsql SET search_path FROM CURRENT " +
				"AS $$ BEGIN END $$;\n-- +goose StatementEnd\n",
			want: []string{"3 " + RuleSearchPath, "6 " + RuleSearchPath},
		},
		{
			name: "RoutinePinnedBySetOrAlter",
			src: "-- +goose Up\n-- +goose StatementBegin\n" +
				"CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path TO pg_catalog " +
				"AS $$ SELECT 1 $$;\n-- +goose StatementEnd\n" +
				"-- +goose StatementBegin\n" +
				"CREATE FUNCTION public.g() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n" +
				"-- +goose StatementEnd\n" +
				"ALTER FUNCTION g() SET search_path = pg_catalog, pg_temp;\n",
		},
		{
			name: "IndexOnExistingTable",
			src: "-- +goose Up\nCREATE TABLE \"Gadgets\" (id int);\n" +
				"CREATE INDEX ON public.\"Gadgets\" (id);\n" +
				"CREATE UNIQUE INDEX IF NOT EXISTS u ON ONLY public.users (email);\n" +
				"CREATE INDEX g ON gadgets (id);\n" +
				"-- +goose Down\nCREATE INDEX d ON public.\"Gadgets\" (id);\n",
			want: []string{"4 " + RuleIndexConcurrently, "5 " + RuleIndexConcurrently,
				"7 " + RuleIndexConcurrently},
		},
		{
			name: "ConcurrentlyNeedsNoTransaction",
			src:  "-- +goose Up\nCREATE INDEX CONCURRENTLY i ON public.users (email);\n",
			want: []string{"2 " + RuleConcurrentlyInTx},
		},
		{
			name: "ConcurrentlyInNoTransactionFile",
			src: "-- +goose NO TRANSACTION\n-- +goose Up\n" +
				"CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON public.users (email);\n",
		},
		{
			name: "GooseSyntax",
			src: "SELECT 1;\n-- +goose Up\n  -- +goose StatementBegin\n-- +goose Sideways\n" +
				"-- +goose StatementBegin\nSELECT 2;\n",
			want: []string{"1 " + RuleGooseSyntax, "3 " + RuleGooseSyntax, "4 " + RuleGooseSyntax,
				"5 " + RuleGooseSyntax},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := map[string]bool{}
			for _, p := range LintFile("f.sql", []byte(tc.src)) {
				got[fmt.Sprintf("%d %s", p.Line, p.Rule)] = true
			}
			want := map[string]bool{}
			for _, w := range tc.want {
				want[w] = true
				if !got[w] {
					t.Errorf("missing problem %q", w)
				}
			}
			for g := range got {
				if !want[g] {
					t.Errorf("unexpected problem %q", g)
				}
			}
		})
	}
}

func TestLintSkipsFilesGooseIgnores(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"notes.sql":       {Data: []byte("DO $$ BEGIN END $$;")},
		"00001_first.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")},
	}
	problems, files, err := Lint(fsys)
	if err != nil || files != 1 || len(problems) != 0 {
		t.Errorf("Lint = %v, %d files, %v; want no problems in 1 file", problems, files, err)
	}
}
