// Package tests holds secretsdb's integration tests: each runs against a real PostgreSQL,
// in a database of its own (see internal/testdb).
package tests

import (
	"testing"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

func TestMain(m *testing.M) {
	testdb.Main(m, removeBinary)
}
