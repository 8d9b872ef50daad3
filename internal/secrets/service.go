// Package secrets is secretsdb's Go API: a Service that provisions the session's user and
// stores or checks in secrets through the SQL routines, one CALL per operation, and turns
// their results and SQLSTATEs into this package's types and sentinel errors.
package secrets

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsdb/secretsdb/internal/dbq"
)

// Options tune a Service. The zero value is usable.
type Options struct {
	// LinkVerifiedEmail lets a new id whose verified email belongs to an existing user be
	// linked to that user. Off (the default), such a session gets ErrEmailInUse.
	LinkVerifiedEmail bool

	// AcquireTimeout bounds the wait for a pooled connection, so a saturated pool fails
	// fast with ErrUnavailable instead of queueing requests. Default 2s.
	AcquireTimeout time.Duration

	// MaxAttempts is how many times a call is tried when PostgreSQL reports a
	// serialization failure or deadlock (40001, 40P01). Default 4.
	MaxAttempts int

	// Logger receives one Info line per user created or linked. Default: discard.
	Logger *slog.Logger

	// OnRetry, when set, is called before each retry with the error that caused it.
	OnRetry func(err error)

	// The hooks below, when set, are told about writes once they are durable. Every
	// operation is one autocommit statement, so a call that returned without error has
	// committed; a failed or rolled-back call calls none of them. Metrics hook in here.

	// OnUserProvisioned is called with OutcomeCreated or OutcomeLinked when a call
	// created the session's user or linked its id to an existing one.
	OnUserProvisioned func(outcome Outcome)
	// OnSecretCreated is called once per stored secret.
	OnSecretCreated func()
	// OnCheckIn is called once per recorded check-in.
	OnCheckIn func()
}

// Service runs the SQL API over a pgx pool. It is safe for concurrent use.
type Service struct {
	pool *pgxpool.Pool
	opts Options
}

// New returns a Service over pool.
func New(pool *pgxpool.Pool, opts Options) *Service {
	if opts.AcquireTimeout <= 0 {
		opts.AcquireTimeout = 2 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{pool: pool, opts: opts}
}

// EnsureUser resolves the session's user, creating or linking it when needed.
func (s *Service) EnsureUser(ctx context.Context, sess Session) (User, error) {
	if err := validateSession(sess); err != nil {
		return User{}, err
	}
	var row dbq.EnsureUserRow
	err := s.run(ctx, func(q *dbq.Queries) (err error) {
		row, err = q.EnsureUser(ctx, ensureUserParams(sess, s.opts.LinkVerifiedEmail))
		return err
	})
	if err != nil {
		return User{}, err
	}
	u := User{
		ID:      row.UserID.String,
		Email:   row.Email.String,
		Outcome: Outcome(row.Outcome.String),
	}
	s.provisioned(ctx, sess, u.ID, u.Outcome)
	return u, nil
}

// UserExists reports whether a user with this id, or an account linked under it, exists.
func (s *Service) UserExists(ctx context.Context, userID string) (bool, error) {
	if _, err := checkText("user_id", userID, MaxUserIDLen, true); err != nil {
		return false, err
	}
	var exists bool
	err := s.run(ctx, func(q *dbq.Queries) (err error) {
		exists, err = q.UserExists(ctx, userID)
		return err
	})
	return exists, err
}

// CreateSecret provisions the session's user and stores the secret under the resolved
// user, in one statement: either both are written or neither.
func (s *Service) CreateSecret(ctx context.Context, sess Session, n NewSecret) (Created, error) {
	if err := validateSecret(n); err != nil {
		return Created{}, err
	}
	if err := validateSession(sess); err != nil {
		return Created{}, err
	}

	var row dbq.CreateSecretRow
	err := s.run(ctx, func(q *dbq.Queries) (err error) {
		row, err = q.CreateSecret(ctx, createSecretParams(sess, n, s.opts.LinkVerifiedEmail))
		return err
	})
	if err != nil {
		return Created{}, err
	}

	c := Created{
		SecretID:    uuidString(row.SecretID),
		UserID:      row.UserID.String,
		Outcome:     Outcome(row.Outcome.String),
		NextCheckIn: row.NextCheckIn.Time,
	}
	s.provisioned(ctx, sess, c.UserID, c.Outcome)
	if s.opts.OnSecretCreated != nil {
		s.opts.OnSecretCreated()
	}
	return c, nil
}

// CheckIn records a check-in of one of the session user's secrets and returns when the
// next one is due.
func (s *Service) CheckIn(ctx context.Context, sess Session, secretID string) (CheckIn, error) {
	if err := validateSecretID(secretID); err != nil {
		return CheckIn{}, err
	}
	if err := validateSession(sess); err != nil {
		return CheckIn{}, err
	}

	var row dbq.RecordCheckInRow
	err := s.run(ctx, func(q *dbq.Queries) (err error) {
		row, err = q.RecordCheckIn(ctx, dbq.RecordCheckInParams{
			UserID:            sess.UserID,
			Email:             sess.Email,
			SecretID:          secretID,
			Name:              optText(sess.Name),
			Image:             optText(sess.Image),
			EmailVerified:     sess.EmailVerified,
			Provider:          optText(sess.Provider),
			LinkVerifiedEmail: s.opts.LinkVerifiedEmail,
		})
		return err
	})
	if err != nil {
		return CheckIn{}, err
	}

	c := CheckIn{
		SecretID:    secretID,
		UserID:      row.UserID.String,
		Outcome:     Outcome(row.Outcome.String),
		CheckedInAt: row.CheckedInAt.Time,
		NextCheckIn: row.NextCheckIn.Time,
	}
	s.provisioned(ctx, sess, c.UserID, c.Outcome)
	if s.opts.OnCheckIn != nil {
		s.opts.OnCheckIn()
	}
	return c, nil
}

// ListSecrets returns the session user's secrets, newest first, without shares. A session
// whose user does not exist yet has none; listing creates nothing.
func (s *Service) ListSecrets(ctx context.Context, sess Session) ([]Secret, error) {
	if _, err := checkText("user_id", sess.UserID, MaxUserIDLen, true); err != nil {
		return nil, err
	}
	var rows []dbq.ListSecretsRow
	err := s.run(ctx, func(q *dbq.Queries) (err error) {
		rows, err = q.ListSecrets(ctx, sess.UserID)
		return err
	})
	if err != nil {
		return nil, err
	}

	out := make([]Secret, len(rows))
	for i, r := range rows {
		out[i] = secretFromRow(r)
	}
	return out, nil
}

// GetSecret returns one of the session user's secrets, without its share. Another user's
// secret is ErrSecretNotFound, as a missing one is.
func (s *Service) GetSecret(ctx context.Context, sess Session, secretID string) (Secret, error) {
	if err := validateSecretID(secretID); err != nil {
		return Secret{}, err
	}
	if _, err := checkText("user_id", sess.UserID, MaxUserIDLen, true); err != nil {
		return Secret{}, err
	}
	var id pgtype.UUID
	if err := id.Scan(secretID); err != nil {
		return Secret{}, invalid("secret_id", "must be a UUID, got %q", secretID)
	}

	var row dbq.GetSecretRow
	err := s.run(ctx, func(q *dbq.Queries) (err error) {
		row, err = q.GetSecret(ctx, dbq.GetSecretParams{SecretID: id, UserID: sess.UserID})
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Secret{}, ErrSecretNotFound
	}
	if err != nil {
		return Secret{}, err
	}
	// Both queries select the same columns, so sqlc's two row types convert.
	return secretFromRow(dbq.ListSecretsRow(row)), nil
}

// SchemaVersion returns the highest migration version applied to the database.
func (s *Service) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.run(ctx, func(q *dbq.Queries) (err error) {
		v, err = q.SchemaVersion(ctx)
		return err
	})
	return v, err
}

// run executes fn on one pooled connection, retrying serialization failures and deadlocks
// with jittered backoff. Each operation is a single statement, so a retry re-runs the
// whole unit of work and nothing holds a second connection (a request that did could
// deadlock a pool of one).
func (s *Service) run(ctx context.Context, fn func(q *dbq.Queries) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = s.runOnce(ctx, fn)
		if err == nil || !retryable(err) || attempt >= s.opts.MaxAttempts {
			break
		}
		if s.opts.OnRetry != nil {
			s.opts.OnRetry(err)
		}
		// Full jitter over an exponential window: 5ms, 10ms, 20ms, ...
		window := time.Duration(5<<(attempt-1)) * time.Millisecond
		select {
		case <-time.After(rand.N(window) + time.Millisecond):
		case <-ctx.Done():
			return mapError(ctx.Err())
		}
	}
	return mapError(err)
}

func (s *Service) runOnce(ctx context.Context, fn func(q *dbq.Queries) error) error {
	acquireCtx, cancel := context.WithTimeout(ctx, s.opts.AcquireTimeout)
	conn, err := s.pool.Acquire(acquireCtx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &DatabaseError{
			Kind:    ErrUnavailable,
			Message: "no database connection within the acquire timeout: " + err.Error(),
			err:     err,
		}
	}
	defer conn.Release()
	return fn(dbq.New(conn))
}

// provisioned logs and reports users that this call created or linked. The statement has
// returned, so it has committed: nothing is claimed before the write is durable.
func (s *Service) provisioned(ctx context.Context, sess Session, userID string,
	outcome Outcome) {
	if outcome == OutcomeExisting {
		return
	}
	s.opts.Logger.InfoContext(ctx, "user provisioned",
		"outcome", string(outcome), "user_id", userID, "session_user_id", sess.UserID)
	if s.opts.OnUserProvisioned != nil {
		s.opts.OnUserProvisioned(outcome)
	}
}

// ensureUserParams and createSecretParams are the arguments the Service sends, kept apart
// so tests can send the same ones past the Go checks and compare the routines' answers.
func ensureUserParams(sess Session, link bool) dbq.EnsureUserParams {
	return dbq.EnsureUserParams{
		UserID:            sess.UserID,
		Email:             sess.Email,
		Name:              optText(sess.Name),
		Image:             optText(sess.Image),
		EmailVerified:     sess.EmailVerified,
		Provider:          optText(sess.Provider),
		LinkVerifiedEmail: link,
	}
}

func createSecretParams(sess Session, n NewSecret, link bool) dbq.CreateSecretParams {
	return dbq.CreateSecretParams{
		UserID:            sess.UserID,
		Email:             sess.Email,
		Title:             n.Title,
		RecipientName:     n.RecipientName,
		ServerShare:       n.ServerShare,
		RecipientEmail:    optText(n.RecipientEmail),
		RecipientPhone:    optText(n.RecipientPhone),
		ContactMethod:     n.ContactMethod,
		CheckInDays:       int32(n.CheckInDays),
		Iv:                optText(n.IV),
		AuthTag:           optText(n.AuthTag),
		SssSharesTotal:    int32(n.SharesTotal),
		SssThreshold:      int32(n.Threshold),
		Name:              optText(sess.Name),
		Image:             optText(sess.Image),
		EmailVerified:     sess.EmailVerified,
		Provider:          optText(sess.Provider),
		LinkVerifiedEmail: link,
	}
}

func secretFromRow(r dbq.ListSecretsRow) Secret {
	return Secret{
		ID:             uuidString(r.ID),
		Title:          r.Title,
		RecipientName:  r.RecipientName,
		RecipientEmail: r.RecipientEmail.String,
		RecipientPhone: r.RecipientPhone.String,
		ContactMethod:  string(r.ContactMethod),
		CheckInDays:    int(r.CheckInDays),
		Status:         string(r.Status),
		SharesTotal:    int(r.SssSharesTotal),
		Threshold:      int(r.SssThreshold),
		LastCheckIn:    optTime(r.LastCheckIn),
		NextCheckIn:    optTime(r.NextCheckIn),
		TriggeredAt:    optTime(r.TriggeredAt),
		CreatedAt:      r.CreatedAt.Time,
		UpdatedAt:      r.UpdatedAt.Time,
	}
}

func optText(s string) pgtype.Text {
	return pgtype.Text{String: s, Valid: s != ""}
}

func optTime(t pgtype.Timestamptz) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}

func uuidString(u pgtype.UUID) string {
	if !u.Valid {
		return ""
	}
	v, _ := u.Value()
	s, _ := v.(string)
	return s
}
