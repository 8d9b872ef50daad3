package tests

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsdb/secretsdb/internal/httpapi"
	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/session"
	"github.com/secretsdb/secretsdb/internal/testdb"
)

// apiSecret is the AUTH_SECRET of the in-process API in tests that mint their own tokens.
const apiSecret = "http-test-secret-0001"

// apiTimeout bounds each HTTP call and each statement of the API tests. Every request
// finishes in milliseconds; the bound only turns a hang into a failure.
const apiTimeout = 30 * time.Second

// v4Cookie is NextAuth v4's session cookie over plain HTTP, the cookie minted tokens use.
const v4Cookie = "next-auth.session-token"

// sqlLeaks are fragments of PostgreSQL and driver error text. An error body that holds any
// of them has leaked the database's error to the client.
var sqlLeaks = []string{"SQLSTATE", "pq:", "ERROR:", "violates", "pgx", "public."}

// apiTables are the tables a request may write to, in the order they are reported.
var apiTables = []string{"users", "accounts", "secrets", "checkin_history", "audit_events"}

// apiConfig tunes newAPI. The zero value serves with default options and apiSecret.
type apiConfig struct {
	// Env holds the session secrets as the web app's environment would; default
	// AUTH_SECRET=apiSecret.
	Env map[string]string
	// Service is passed to secrets.New.
	Service secrets.Options
	// Pool replaces the test database's own pool, for tests that size it.
	Pool *pgxpool.Pool
	// RequestTimeout is the handler's per-request deadline; default the handler's.
	RequestTimeout time.Duration
	// SchemaVersion is the migration version /readyz expects; default 0, always current.
	SchemaVersion int64
}

// apiEnv is an API on a database of its own: in process, or a secretsdb process.
type apiEnv struct {
	DB      *testdb.DB
	Pool    *pgxpool.Pool
	Srv     *httptest.Server
	BaseURL string
	Client  *http.Client
	Logs    *syncBuffer
}

// newAPI starts the HTTP API over a freshly migrated database, logging JSON into Logs.
func newAPI(t *testing.T, cfg apiConfig) *apiEnv {
	t.Helper()
	db := testdb.New(t)
	pool := cfg.Pool
	if pool == nil {
		pool = db.Pool
	}
	return newAPIOn(t, db, pool, cfg)
}

// newAPIOn starts the HTTP API over pool, which must belong to db.
func newAPIOn(t *testing.T, db *testdb.DB, pool *pgxpool.Pool, cfg apiConfig) *apiEnv {
	t.Helper()
	env := cfg.Env
	if env == nil {
		env = map[string]string{"AUTH_SECRET": apiSecret}
	}
	sessCfg, err := session.ConfigFromEnv(func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("session config from %v: %v", env, err)
	}
	decoder, err := session.NewDecoder(sessCfg)
	if err != nil {
		t.Fatalf("session decoder: %v", err)
	}

	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := cfg.Service
	opts.Logger = logger
	handler := httpapi.New(httpapi.Config{
		Service:        secrets.New(pool, opts),
		Sessions:       decoder,
		Logger:         logger,
		RequestTimeout: cfg.RequestTimeout,
		SchemaVersion:  cfg.SchemaVersion,
	})
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &apiEnv{DB: db, Pool: pool, Srv: srv, BaseURL: srv.URL, Client: srv.Client(),
		Logs: logs}
}

// syncBuffer is a bytes.Buffer safe for a logger writing from request goroutines while
// the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// apiCtx returns a bounded context that ends with the test.
func apiCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	t.Cleanup(cancel)
	return ctx
}

// apiRequest is one call to the API. Body is sent as is; a nil Body sends none.
type apiRequest struct {
	Method      string
	Path        string
	Body        []byte
	ContentType string
	Cookies     []*http.Cookie
	Header      http.Header
}

// apiResponse is a read response.
type apiResponse struct {
	Status int
	Header http.Header
	Body   []byte
	// Took is the wall time of the call, for "did not hang" bounds only.
	Took time.Duration
}

// do sends r and reads the whole response. It is safe to call from several goroutines;
// failures are returned, not fatal, so that goroutines can report them.
func (e *apiEnv) do(ctx context.Context, r apiRequest) (apiResponse, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, e.BaseURL+r.Path, body)
	if err != nil {
		return apiResponse{}, err
	}
	if r.Body != nil {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	for _, c := range r.Cookies {
		req.AddCookie(c)
	}

	start := time.Now()
	resp, err := e.Client.Do(req)
	if err != nil {
		return apiResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResponse{}, err
	}
	return apiResponse{
		Status: resp.StatusCode, Header: resp.Header, Body: b, Took: time.Since(start),
	}, nil
}

// mustDo is do for the test goroutine.
func (e *apiEnv) mustDo(t *testing.T, r apiRequest) apiResponse {
	t.Helper()
	resp, err := e.do(apiCtx(t), r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	return resp
}

// createSecret posts body to /api/secrets with the session cookies.
func (e *apiEnv) createSecret(t *testing.T, cookies []*http.Cookie, body any) apiResponse {
	t.Helper()
	return e.mustDo(t, apiRequest{
		Method: http.MethodPost, Path: "/api/secrets", Body: mustJSON(t, body), Cookies: cookies,
	})
}

// checkIn posts to the check-in route of secret id with the session cookies.
func (e *apiEnv) checkIn(t *testing.T, cookies []*http.Cookie, id string) apiResponse {
	t.Helper()
	return e.mustDo(t, apiRequest{
		Method: http.MethodPost, Path: "/api/secrets/" + id + "/check-in", Cookies: cookies,
	})
}

// secretBody is a valid POST /api/secrets body with the seed app's field names; tests
// change only the fields they are about.
func secretBody() map[string]any {
	return map[string]any{
		"title":           "Letter to Alex",
		"recipient_name":  "Alex Morgan",
		"recipient_email": "alex.morgan@example.net",
		"contact_method":  "email",
		"check_in_days":   30,
		"server_share":    "c2hhcmUtb2YtdGhlLXNlcnZlci1odHRwLTAwMDE=",
		"iv":              "aXYtMDAwMQ==",
		"auth_tag":        "dGFnLTAwMDE=",
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	if b, ok := v.([]byte); ok {
		return b
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %v: %v", v, err)
	}
	return b
}

// created is the part of a 201 body the tests read.
type created struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Status      string    `json:"status"`
	NextCheckIn time.Time `json:"next_check_in"`
}

// requireCreated fails unless resp is a 201 with an id and the matching Location, and
// returns the body.
func requireCreated(t *testing.T, resp apiResponse) created {
	t.Helper()
	if resp.Status != http.StatusCreated {
		t.Fatalf("status = %d, want 201; body %s", resp.Status, resp.Body)
	}
	var c created
	if err := json.Unmarshal(resp.Body, &c); err != nil {
		t.Fatalf("201 body %s: %v", resp.Body, err)
	}
	if c.ID == "" {
		t.Fatalf("201 body has no id: %s", resp.Body)
	}
	if got, want := resp.Header.Get("Location"), "/api/secrets/"+c.ID; got != want {
		t.Fatalf("Location = %q, want %q", got, want)
	}
	if bytes.Contains(resp.Body, []byte("server_share")) {
		t.Fatalf("201 body returns the server share: %s", resp.Body)
	}
	return c
}

// apiError is the error body every failure answers with.
type apiError struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Field     string `json:"field"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// requireError fails unless resp is an error of the given status, code and field (field
// "" means none), in the documented shape, without database error text.
func requireError(t *testing.T, resp apiResponse, status int, code, field string) apiError {
	t.Helper()
	if resp.Status != status {
		t.Fatalf("status = %d, want %d; body %s", resp.Status, status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.DisallowUnknownFields()
	var e apiError
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s is not {\"error\": {code, message, field, request_id}}: %v",
			resp.Body, err)
	}
	if e.Error.Code != code || e.Error.Field != field {
		t.Fatalf("error code, field = %q, %q, want %q, %q; body %s",
			e.Error.Code, e.Error.Field, code, field, resp.Body)
	}
	if e.Error.Message == "" {
		t.Fatalf("error body has no message: %s", resp.Body)
	}
	if e.Error.RequestID == "" || e.Error.RequestID != resp.Header.Get("X-Request-Id") {
		t.Fatalf("request_id = %q, X-Request-Id = %q, want the same non-empty id",
			e.Error.RequestID, resp.Header.Get("X-Request-Id"))
	}
	for _, leak := range sqlLeaks {
		if bytes.Contains(resp.Body, []byte(leak)) {
			t.Fatalf("error body holds database error text %q: %s", leak, resp.Body)
		}
	}
	return e
}

// rowCounts returns the number of rows in each of apiTables.
func rowCounts(t *testing.T, db *testdb.DB) map[string]int {
	t.Helper()
	out := make(map[string]int, len(apiTables))
	for _, table := range apiTables {
		out[table] = apiCount(t, db, "SELECT count(*) FROM public."+table)
	}
	return out
}

// requireNoRows fails when any table a request writes to holds a row.
func requireNoRows(t *testing.T, db *testdb.DB) {
	t.Helper()
	for table, n := range rowCounts(t, db) {
		if n != 0 {
			t.Fatalf("%s holds %d rows, want none to be written", table, n)
		}
	}
}

// requireRowCounts fails unless the tables hold exactly want's counts.
func requireRowCounts(t *testing.T, db *testdb.DB, want map[string]int) {
	t.Helper()
	got := rowCounts(t, db)
	for _, table := range apiTables {
		if got[table] != want[table] {
			t.Fatalf("%s holds %d rows, want %d (all counts %v)", table, got[table],
				want[table], got)
		}
	}
}

// apiCount returns the integer a counting query yields.
func apiCount(t *testing.T, db *testdb.DB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(apiCtx(t), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// apiExec runs an arrange statement on the test database.
func apiExec(t *testing.T, db *testdb.DB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool.Exec(apiCtx(t), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// storedUser is a users row.
type storedUser struct {
	Email    string
	Name     *string
	Image    *string
	Verified bool
}

// loadUser returns the users row with id, failing when there is none.
func loadUser(t *testing.T, db *testdb.DB, id string) storedUser {
	t.Helper()
	var u storedUser
	err := db.Pool.QueryRow(apiCtx(t),
		`SELECT email, name, image, email_verified IS NOT NULL FROM public.users WHERE id = $1`,
		id).Scan(&u.Email, &u.Name, &u.Image, &u.Verified)
	if err != nil {
		t.Fatalf("loading user %q: %v", id, err)
	}
	return u
}

// mintCookies mints a NextAuth v4 session for c with apiSecret, valid for an hour.
func mintCookies(t *testing.T, c session.Claims) []*http.Cookie {
	t.Helper()
	token, err := session.Mint(c, apiSecret, session.FormatV4, v4Cookie, time.Hour, time.Now())
	if err != nil {
		t.Fatalf("minting session for %q: %v", c.UserID, err)
	}
	return session.ChunkCookies(v4Cookie, token, session.FormatV4)
}

// rawV4Cookies encrypts payload exactly as NextAuth v4 does (HKDF-SHA256 without salt,
// JWE dir + A256GCM) with apiSecret. session.Mint writes only what the library's default
// callback writes; this builds the claims an app's own callback could put there, such as
// an empty name or a numeric id.
func rawV4Cookies(t *testing.T, payload map[string]any) []*http.Cookie {
	t.Helper()
	if _, ok := payload["exp"]; !ok {
		payload["exp"] = time.Now().Add(time.Hour).Unix()
	}
	key, err := hkdf.Key(sha256.New, []byte(apiSecret), nil,
		"NextAuth.js Generated Encryption Key", 32)
	if err != nil {
		t.Fatalf("deriving v4 key: %v", err)
	}
	enc, err := jose.NewEncrypter(jose.A256GCM,
		jose.Recipient{Algorithm: jose.DIRECT, Key: key}, nil)
	if err != nil {
		t.Fatalf("v4 encrypter: %v", err)
	}
	obj, err := enc.Encrypt(mustJSON(t, payload))
	if err != nil {
		t.Fatalf("encrypting %v: %v", payload, err)
	}
	token, err := obj.CompactSerialize()
	if err != nil {
		t.Fatalf("serialising token: %v", err)
	}
	return []*http.Cookie{{Name: v4Cookie, Value: token}}
}

// sessionFixture is a session cookie made by the real NextAuth v4 or Auth.js v5 library,
// from testdata/sessions, with the secret it was encrypted for and the claims inside.
type sessionFixture struct {
	Library     string         `json:"library"`
	CookieName  string         `json:"cookie_name"`
	Secret      string         `json:"secret"`
	Claims      map[string]any `json:"token_claims"`
	CookieValue string         `json:"cookie_value"`
	Note        string         `json:"note"`
}

func loadSessionFixture(t *testing.T, name string) sessionFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sessions", name))
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	var f sessionFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("decoding fixture %s: %v", name, err)
	}
	if f.CookieName == "" || f.Secret == "" || f.CookieValue == "" {
		t.Fatalf("fixture %s lacks cookie_name, secret or cookie_value", name)
	}
	return f
}

// cookies returns the fixture's cookie as the browser sends it.
func (f sessionFixture) cookies() []*http.Cookie {
	return []*http.Cookie{{Name: f.CookieName, Value: f.CookieValue}}
}

// claim returns a string claim of the fixture, "" when absent or null.
func (f sessionFixture) claim(name string) string {
	s, _ := f.Claims[name].(string)
	return s
}

// sessionClaims is a minimal signed-in user.
func sessionClaims(id, email string) session.Claims {
	return session.Claims{UserID: id, Email: email}
}
