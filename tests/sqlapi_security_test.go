package tests

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secretsdb/secretsdb/internal/testdb"
)

// connectAs opens a connection to db as role, closed when the test ends (before the role
// is dropped, since cleanups run last-in first-out).
func connectAs(t *testing.T, db *testdb.DB, role string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(queryCtx(t), db.URLAs(t, role))
	if err != nil {
		t.Fatalf("connecting as %s: %v", role, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		_ = conn.Close(ctx)
	})
	return conn
}

// TestSQLSecurityPinnedSearchPath checks that every routine of ours fixes its search_path,
// with pg_temp last, so no object a caller creates can stand in for a table or built-in.
func TestSQLSecurityPinnedSearchPath(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)

	rows, err := db.Pool.Query(queryCtx(t), `
		SELECT p.oid::regprocedure::text, coalesce(p.proconfig, '{}')
		FROM pg_catalog.pg_proc p
		WHERE p.pronamespace = 'public'::regnamespace
			AND NOT EXISTS (
				SELECT 1 FROM pg_catalog.pg_depend d
				WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	routines := 0
	for rows.Next() {
		var name string
		var config []string
		if err := rows.Scan(&name, &config); err != nil {
			t.Fatal(err)
		}
		routines++
		path := ""
		for _, setting := range config {
			if v, ok := strings.CutPrefix(setting, "search_path="); ok {
				path = v
			}
		}
		if path == "" {
			t.Errorf("%s has no search_path setting (proconfig %v)", name, config)
			continue
		}
		if !strings.HasSuffix(path, "pg_temp") || strings.Contains(path, "$user") {
			t.Errorf("%s: search_path %q must end with pg_temp and omit $user", name, path)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if routines < 4 {
		t.Fatalf("found %d routines in public, want the API and its helpers", routines)
	}
}

// TestSQLSecurityCallerSearchPath tries to redirect the API with a caller's schema placed
// first in search_path, holding a users table and functions named like the built-ins the
// routines use, plus a temporary users table. The decoys raise when called, so a routine
// that resolved any of them would fail.
func TestSQLSecurityCallerSearchPath(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	role := testdb.NewLoginRole(t, "secretsdb_app")
	mustExec(t, db.Pool, "CREATE SCHEMA decoy")
	// The role is dropped before the database, so its grants and temporary table must go
	// first; cleanups registered later run earlier.
	t.Cleanup(func() { mustExec(t, db.Pool, "DROP SCHEMA decoy CASCADE") })
	mustExec(t, db.Pool, "CREATE TABLE decoy.users (id text, email text)")
	mustExec(t, db.Pool, "CREATE TABLE decoy.secrets (id uuid, user_id text)")
	for _, fn := range []string{
		"lower(text) RETURNS text",
		"btrim(text, text) RETURNS text",
		"char_length(text) RETURNS integer",
		"now() RETURNS timestamptz",
		"gen_random_uuid() RETURNS uuid",
	} {
		mustExec(t, db.Pool, "CREATE FUNCTION decoy."+fn+
			" LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'decoy called'; END $$")
	}
	mustExec(t, db.Pool, "GRANT USAGE ON SCHEMA decoy TO "+pgx.Identifier{role}.Sanitize())
	mustExec(t, db.Pool, "GRANT SELECT ON ALL TABLES IN SCHEMA decoy TO "+
		pgx.Identifier{role}.Sanitize())
	conn := connectAs(t, db, role)
	// pg_catalog is searched first unless listed, so it is listed after the decoys.
	mustExec(t, conn, "SET search_path = decoy, pg_catalog, public")
	mustExec(t, conn, "CREATE TEMP TABLE users (id text, email text)")
	t.Cleanup(func() { mustExec(t, conn, "DISCARD TEMP") })
	_, err := conn.Exec(queryCtx(t), "SELECT lower('A')")
	if pgErr := requireSQLState(t, err, "P0001", ""); pgErr.Message != "decoy called" {
		t.Fatalf("the caller's own lower() did not reach the decoy: %v", err)
	}

	s, err := callCreateSecret(queryCtx(t), conn, nil)
	if err != nil {
		t.Fatalf("create_secret with the caller's search_path first: %v", err)
	}
	if _, err := callRecordCheckIn(queryCtx(t), conn, args{"p_secret_id": s.SecretID}); err != nil {
		t.Fatalf("record_check_in with the caller's search_path first: %v", err)
	}

	n := countRows(t, db.Pool, `
		SELECT count(*) FROM public.users u JOIN public.secrets s ON s.user_id = u.id
		WHERE u.id = $1 AND u.email = $2 AND s.id = $3`, googleSubject, jordanEmail, s.SecretID)
	if n != 1 {
		t.Errorf("public.users and public.secrets hold %d matching rows, want 1", n)
	}
	decoys := countRows(t, conn, `
		SELECT (SELECT count(*) FROM decoy.users) + (SELECT count(*) FROM decoy.secrets)
			+ (SELECT count(*) FROM pg_temp.users)`)
	if decoys != 0 {
		t.Errorf("decoy tables hold %d rows, want 0", decoys)
	}
}

// TestSQLSecurityExecuteRevoked checks that EXECUTE is not left to PUBLIC: a login role
// outside secretsdb_app can call nothing.
func TestSQLSecurityExecuteRevoked(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	conn := connectAs(t, db, testdb.NewLoginRole(t))

	denied := func(t *testing.T, err error, routine string) {
		t.Helper()
		pgErr := requireSQLState(t, err, "42501", "")
		if !strings.Contains(pgErr.Message, routine) {
			t.Errorf("message %q does not name %s", pgErr.Message, routine)
		}
	}

	t.Run("EnsureUser", func(t *testing.T) {
		_, err := callEnsureUser(queryCtx(t), conn,
			args{"p_user_id": googleSubject, "p_email": jordanEmail})
		denied(t, err, "function ensure_user")
	})
	t.Run("CreateSecret", func(t *testing.T) {
		_, err := callCreateSecret(queryCtx(t), conn, nil)
		denied(t, err, "procedure create_secret")
	})
	t.Run("RecordCheckIn", func(t *testing.T) {
		_, err := callRecordCheckIn(queryCtx(t), conn,
			args{"p_secret_id": "0b6f3c1e-2d4a-4f7e-9b1c-5a6d7e8f9a0b"})
		denied(t, err, "procedure record_check_in")
	})
	t.Run("UserExists", func(t *testing.T) {
		_, err := conn.Exec(queryCtx(t), "SELECT public.user_exists('x')")
		denied(t, err, "function user_exists")
	})

	requireNothingWritten(t, db.Pool)
}

// TestSQLSecurityAppRole checks what a member of secretsdb_app may do: call the API and
// read the listed columns, but write no table and read no share.
func TestSQLSecurityAppRole(t *testing.T) {
	t.Parallel()
	db := newAPIDB(t)
	role := testdb.NewLoginRole(t, "secretsdb_app")
	conn := connectAs(t, db, role)

	s, err := callCreateSecret(queryCtx(t), conn, nil)
	if err != nil {
		t.Fatalf("create_secret as an app role member: %v", err)
	}
	if _, err := callRecordCheckIn(queryCtx(t), conn, args{"p_secret_id": s.SecretID}); err != nil {
		t.Fatalf("record_check_in as an app role member: %v", err)
	}

	t.Run("AuditNamesSessionRole", func(t *testing.T) {
		n := countRows(t, db.Pool,
			"SELECT count(*) FROM public.audit_events WHERE db_role <> $1", role)
		if n != 0 {
			t.Errorf("%d audit rows name another role than the caller %s", n, role)
		}
	})

	t.Run("ReadListedColumns", func(t *testing.T) {
		var id, title string
		err := conn.QueryRow(queryCtx(t), "SELECT id::text, title FROM public.secrets").
			Scan(&id, &title)
		if err != nil {
			t.Fatalf("SELECT id, title FROM secrets: %v", err)
		}
		if id != s.SecretID {
			t.Errorf("read secret %s, want %s", id, s.SecretID)
		}
		if n := countRows(t, conn, "SELECT count(*) FROM public.checkin_history"); n != 1 {
			t.Errorf("checkin_history shows %d rows, want 1", n)
		}
	})

	for name, stmt := range map[string]string{
		"InsertSecret": `INSERT INTO public.secrets (user_id, title, recipient_name,
			recipient_email, server_share) VALUES ('x', 't', 'r', 'r@e.c', 's')`,
		"UpdateUser":   "UPDATE public.users SET name = 'Mallory'",
		"DeleteSecret": "DELETE FROM public.secrets",
		"InsertCheckIn": `INSERT INTO public.checkin_history (secret_id, user_id)
			VALUES (gen_random_uuid(), 'x')`,
		"SelectShare":      "SELECT server_share FROM public.secrets",
		"SelectIV":         "SELECT iv, auth_tag FROM public.secrets",
		"SelectStar":       "SELECT * FROM public.secrets",
		"SelectPassword":   "SELECT password FROM public.users",
		"SelectAudit":      "SELECT count(*) FROM public.audit_events",
		"SelectAccounts":   "SELECT count(*) FROM public.accounts",
		"CallHelper":       "SELECT public.secretsdb_invalid_input('x', 'y')",
		"CallNextCheckIn":  "SELECT public.secretsdb_next_check_in(now(), 2)",
		"CallNormaliseFun": "SELECT public.secretsdb_normalize_email('e', 'a@b.c', true)",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := conn.Exec(queryCtx(t), stmt)
			_ = requireSQLState(t, err, "42501", "")
		})
	}

	t.Run("NothingChanged", func(t *testing.T) {
		n := countRows(t, db.Pool, `
			SELECT count(*) FROM public.secrets s JOIN public.users u ON u.id = s.user_id
			WHERE u.name IS NULL`)
		if n != 1 {
			t.Errorf("found %d unchanged secrets of an unnamed user, want 1", n)
		}
	})
}
