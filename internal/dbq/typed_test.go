package dbq

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"testing"
)

// TestGeneratedQueriesAreTyped fails when sqlc falls back to interface{} for a parameter or
// result of our queries, as its static analysis does for CALL and RETURNS TABLE. Only the
// query files are checked: db.go's DBTX and the enums' Scan methods take interface{} by
// design.
func TestGeneratedQueriesAreTyped(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.sql.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no generated query files found")
	}

	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.InterfaceType:
				t.Errorf("%s: interface{} in a generated signature or struct", fset.Position(n.Pos()))
			case *ast.Ident:
				if n.Name == "any" {
					t.Errorf("%s: any in a generated signature or struct", fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
}
