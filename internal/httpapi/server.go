// Package httpapi serves secretsdb's HTTP API: the web app's session cookie in, JSON out.
// Handlers are thin: they read the session and the body, call the secrets Service, and
// map its sentinel errors to statuses. No SQL error text ever reaches a client.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/session"
)

// MaxBodyBytes bounds request bodies; larger ones get 413.
const MaxBodyBytes = 64 << 10

// Service is what the handlers need of *secrets.Service.
type Service interface {
	CreateSecret(ctx context.Context, sess secrets.Session, n secrets.NewSecret) (
		secrets.Created, error)
	CheckIn(ctx context.Context, sess secrets.Session, secretID string) (secrets.CheckIn, error)
	ListSecrets(ctx context.Context, sess secrets.Session) ([]secrets.Secret, error)
	GetSecret(ctx context.Context, sess secrets.Session, secretID string) (secrets.Secret, error)
	SchemaVersion(ctx context.Context) (int64, error)
}

// Config wires a Handler.
type Config struct {
	// Service runs the operations.
	Service Service
	// Sessions decodes the web app's session cookies and bearer tokens.
	Sessions *session.Decoder
	// Logger receives one line per request. Default: discard.
	Logger *slog.Logger
	// SchemaVersion is the migration version this binary was built with; /readyz reports
	// not ready while the database is behind it.
	SchemaVersion int64
	// RequestTimeout bounds each request's work. Default 10s.
	RequestTimeout time.Duration
	// WriteLimiter, when set, is asked before every write (POST /api/secrets and
	// check-ins) with the session's user id, after the session is read and before the body
	// or the database is touched; a refusal is answered 429 with Retry-After. Nil: no limit.
	WriteLimiter Limiter
	// ObserveRequest, when set, is called once per request after its response is written,
	// with the matched route pattern ("POST /api/secrets"; the bare path, such as
	// "/api/secrets", for a method the path does not take; "/" for unknown paths), the
	// status and the time taken. Metrics hook in here.
	ObserveRequest func(route string, status int, d time.Duration)
}

// Limiter decides whether a user may write now.
type Limiter interface {
	// Allow reports whether key may make one more request now and, when not, how long
	// until it may.
	Allow(key string) (ok bool, retryAfter time.Duration)
}

// Handler is the API's http.Handler.
type Handler struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the API handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /api/secrets", h.createSecret)
	h.mux.HandleFunc("GET /api/secrets", h.listSecrets)
	h.mux.HandleFunc("GET /api/secrets/{id}", h.getSecret)
	h.mux.HandleFunc("POST /api/secrets/{id}/check-in", h.checkIn)
	h.mux.HandleFunc("GET /healthz", h.healthz)
	h.mux.HandleFunc("GET /readyz", h.readyz)

	// Without these, another method on a known path would fall through to "/" and get a
	// 404 that reads as a wrong URL. A pattern without a method is less specific than the
	// same path with one, so these only catch the methods the routes above do not take.
	for path, allow := range map[string]string{
		"/api/secrets":               "GET, HEAD, POST",
		"/api/secrets/{id}":          "GET, HEAD",
		"/api/secrets/{id}/check-in": "POST",
		"/healthz":                   "GET, HEAD",
		"/readyz":                    "GET, HEAD",
	} {
		h.mux.HandleFunc(path, methodNotAllowed(allow))
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "not_found", "no such route", "")
	})
	return h
}

// methodNotAllowed answers 405 with the Allow header RFC 9110 requires.
func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, r, http.StatusMethodNotAllowed, "method_not_allowed",
			"this route accepts only "+allow, "")
	}
}

type ctxKey int

const requestIDKey ctxKey = 0

// requestIDPattern accepts a caller's X-Request-Id only when it is short and plain, so
// it can be logged and echoed safely.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ServeHTTP adds a request id, a deadline, panic recovery and the access log line.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !requestIDPattern.MatchString(id) {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	w.Header().Set("X-Request-Id", id)

	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	r = r.WithContext(context.WithValue(ctx, requestIDKey, id))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}

	defer func() {
		if p := recover(); p != nil {
			h.cfg.Logger.ErrorContext(ctx, "handler panic", "request_id", id, "panic", p)
			if !rec.wrote {
				writeError(rec, r, http.StatusInternalServerError, "internal",
					"internal error; quote the request id when reporting it", "")
			}
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		took := time.Since(start)
		h.cfg.Logger.InfoContext(ctx, "request",
			"request_id", id,
			"method", r.Method,
			"route", route,
			"status", rec.status,
			"duration_ms", float64(took.Microseconds())/1000,
		)
		if h.cfg.ObserveRequest != nil {
			h.cfg.ObserveRequest(route, rec.status, took)
		}
	}()
	h.mux.ServeHTTP(rec, r)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}
