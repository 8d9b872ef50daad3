package secrets

import (
	"context"
	"testing"
	"time"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

func TestMain(m *testing.M) {
	testdb.Main(m)
}

// testCtx bounds one step of a test; every statement here takes milliseconds.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
