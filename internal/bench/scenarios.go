package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsdb/secretsdb/internal/dbq"
	"github.com/secretsdb/secretsdb/internal/httpapi"
	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/session"
)

// The scenarios, in the order each round runs them.
const (
	RawInsert      = "raw-insert"
	CreateExisting = "create-existing"
	CreateNew      = "create-new"
	AppLevel       = "app-level"
	AppLevelNew    = "app-level-new"
	RawCheckIn     = "raw-check-in"
	CheckIn        = "check-in"
	HTTPCreate     = "http-create"
)

// scenario is one operation measured in a loop by every worker.
type scenario struct {
	name  string
	about string
	// byDefault: run when --scenarios is not given.
	byDefault bool
	op        func(e *env, ctx context.Context, w *worker) error
}

var scenarios = []scenario{
	{RawInsert, "INSERT INTO secrets for an existing user: one round trip with the FK",
		true, (*env).rawInsert},
	{CreateExisting, "CALL create_secret through the generated wrapper, existing user",
		true, (*env).createExisting},
	{CreateNew, "CALL create_secret for a never-seen user id",
		true, (*env).createNew},
	{AppLevel, "application-level path, existing user: SELECT user by id, INSERT secret",
		true, (*env).appLevel},
	{AppLevelNew, "application-level path, new user: SELECT by id, by email, INSERT user, " +
		"INSERT secret", false, (*env).appLevelNew},
	{RawCheckIn, "UPDATE secrets + INSERT checkin_history in one transaction",
		true, (*env).rawCheckIn},
	{CheckIn, "CALL record_check_in through the generated wrapper",
		true, (*env).checkIn},
	{HTTPCreate, "POST /api/secrets through the HTTP handler with a session cookie",
		true, (*env).httpCreate},
}

// ScenarioNames returns every scenario name in run order.
func ScenarioNames() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}

// DefaultScenarios returns the scenarios run when none are named.
func DefaultScenarios() []string {
	var names []string
	for _, s := range scenarios {
		if s.byDefault {
			names = append(names, s.name)
		}
	}
	return names
}

// The secret every scenario stores: what the web app sends for a typical letter.
const (
	secretTitle     = "Letter"
	recipientName   = "Sam Rivera"
	recipientEmail  = "sam.rivera@example.org"
	checkInDays     = 30
	sharesTotal     = 3
	sharesThreshold = 2
)

// sessionCookie is Auth.js v5's cookie on plain HTTP, the one http-create sends.
const sessionCookie = "authjs.session-token"

// maxTokens bounds the session tokens minted for http-create: minting one per seeded user
// would take longer than the run, and a sample spread over all users hits the same pages.
const maxTokens = 1000

// env is what the scenarios share: the pool, the seeded population and the HTTP handler.
type env struct {
	pool  *pgxpool.Pool
	q     *dbq.Queries
	users int
	share string

	// fresh numbers the users create-new and app-level-new invent.
	fresh atomic.Int64

	handler    http.Handler
	tokens     []string
	createBody []byte
}

// worker is one client loop's state.
type worker struct {
	rng *rand.Rand
}

func (w *worker) user(n int) int { return w.rng.IntN(n) }

func newEnv(pool *pgxpool.Pool, users int, share string) (*env, error) {
	e := &env{pool: pool, q: dbq.New(pool), users: users, share: share}

	// The session secret lives as long as the run; only the tokens minted below use it.
	secret := randomShare()
	decoder, err := session.NewDecoder(session.Config{Secrets: []string{secret}})
	if err != nil {
		return nil, err
	}
	e.handler = httpapi.New(httpapi.Config{
		Service:  secrets.New(pool, secrets.Options{AcquireTimeout: 30 * time.Second}),
		Sessions: decoder,
	})

	n := min(users, maxTokens)
	now := time.Now()
	for k := range n {
		i := k * users / n
		token, err := session.Mint(session.Claims{
			UserID: userID(i),
			Email:  userEmail(i),
			Name:   "Seeded User " + strconv.Itoa(i),
		}, secret, session.FormatV5, sessionCookie, 24*time.Hour, now)
		if err != nil {
			return nil, err
		}
		e.tokens = append(e.tokens, token)
	}

	e.createBody, err = json.Marshal(map[string]any{
		"title":           secretTitle,
		"recipient_name":  recipientName,
		"recipient_email": recipientEmail,
		"server_share":    share,
		"check_in_days":   checkInDays,
	})
	return e, err
}

func (e *env) newUser() (id, email string) {
	n := e.fresh.Add(1)
	return "2" + fmt.Sprintf("%020d", n), "new" + strconv.FormatInt(n, 10) + "@example.com"
}

func (e *env) insertSecret(ctx context.Context, userID string) error {
	_, err := e.q.BenchInsertSecret(ctx, dbq.BenchInsertSecretParams{
		UserID:         userID,
		Title:          secretTitle,
		RecipientName:  recipientName,
		RecipientEmail: recipientEmail,
		ContactMethod:  dbq.ContactMethodEmail,
		CheckInDays:    checkInDays,
		ServerShare:    e.share,
		SssSharesTotal: sharesTotal,
		SssThreshold:   sharesThreshold,
	})
	return err
}

func (e *env) rawInsert(ctx context.Context, w *worker) error {
	return e.insertSecret(ctx, userID(w.user(e.users)))
}

func (e *env) callCreate(ctx context.Context, id, email string) error {
	_, err := e.q.CreateSecret(ctx, dbq.CreateSecretParams{
		UserID:         id,
		Email:          email,
		Title:          secretTitle,
		RecipientName:  recipientName,
		ServerShare:    e.share,
		RecipientEmail: pgtype.Text{String: recipientEmail, Valid: true},
		ContactMethod:  string(dbq.ContactMethodEmail),
		CheckInDays:    checkInDays,
		SssSharesTotal: sharesTotal,
		SssThreshold:   sharesThreshold,
	})
	return err
}

func (e *env) createExisting(ctx context.Context, w *worker) error {
	i := w.user(e.users)
	return e.callCreate(ctx, userID(i), userEmail(i))
}

func (e *env) createNew(ctx context.Context, _ *worker) error {
	id, email := e.newUser()
	return e.callCreate(ctx, id, email)
}

// appLevelCreate is how the application stored a secret before the SQL API: look the
// session's user up by id, then by email, insert it when missing, then insert the
// secret, each statement a round trip and a transaction of its own.
func (e *env) appLevelCreate(ctx context.Context, id, email string) error {
	_, err := e.q.BenchUserByID(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = e.q.BenchUserByEmail(ctx, email)
		switch {
		case err == nil:
			return fmt.Errorf("email %s belongs to another user", email)
		case errors.Is(err, pgx.ErrNoRows):
			_, err = e.q.BenchInsertUser(ctx, dbq.BenchInsertUserParams{ID: id, Email: email})
		}
	}
	if err != nil {
		return err
	}
	return e.insertSecret(ctx, id)
}

func (e *env) appLevel(ctx context.Context, w *worker) error {
	i := w.user(e.users)
	return e.appLevelCreate(ctx, userID(i), userEmail(i))
}

func (e *env) appLevelNew(ctx context.Context, _ *worker) error {
	id, email := e.newUser()
	return e.appLevelCreate(ctx, id, email)
}

func (e *env) checkIn(ctx context.Context, w *worker) error {
	i := w.user(e.users)
	_, err := e.q.RecordCheckIn(ctx, dbq.RecordCheckInParams{
		UserID:   userID(i),
		Email:    userEmail(i),
		SecretID: uuidText(secretID(i)),
	})
	return err
}

// rawCheckIn is the check-in an application writes itself: move the secret's schedule
// and append the history row, in one transaction.
func (e *env) rawCheckIn(ctx context.Context, w *worker) error {
	i := w.user(e.users)
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		q := e.q.WithTx(tx)
		next, err := q.BenchTouchSecretCheckIn(ctx, dbq.BenchTouchSecretCheckInParams{
			ID:     secretID(i),
			UserID: userID(i),
		})
		if err != nil {
			return fmt.Errorf("moving the schedule of secret %s: %w", uuidText(secretID(i)), err)
		}
		return q.BenchInsertCheckIn(ctx, dbq.BenchInsertCheckInParams{
			SecretID:    secretID(i),
			UserID:      userID(i),
			NextCheckIn: next,
		})
	})
}

func (e *env) httpCreate(ctx context.Context, w *worker) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/api/secrets",
		bytes.NewReader(e.createBody))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: e.tokens[w.rng.IntN(len(e.tokens))]})

	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		body := rec.Body.String()
		return fmt.Errorf("POST /api/secrets answered %d: %s", rec.Code, body[:min(len(body), 200)])
	}
	return nil
}
