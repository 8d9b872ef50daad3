package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/secretsdb/secretsdb/internal/secrets"
	"github.com/secretsdb/secretsdb/internal/session"
)

// errorBody is every error response: {"error": {"code", "message", "field", "request_id"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id"`
}

func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg, field string) {
	writeJSON(w, status, errorBody{Error: errorDetail{
		Code:      code,
		Message:   msg,
		Field:     field,
		RequestID: requestID(r),
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sessionError answers a request whose session could not be read.
func (h *Handler) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	var ce *session.ClaimError
	switch {
	case errors.As(err, &ce) && ce.Claim != "exp":
		// The token is authentic but a claim has the wrong type (a numeric sub, say):
		// signing in again would not change it.
		writeError(w, r, http.StatusBadRequest, "invalid_session_claim", ce.Error(), ce.Claim)
	case errors.Is(err, session.ErrNoSession):
		writeError(w, r, http.StatusUnauthorized, "unauthenticated", "sign in first", "")
	case errors.Is(err, session.ErrExpired):
		writeError(w, r, http.StatusUnauthorized, "session_expired",
			"the session has expired; sign in again", "")
	default:
		writeError(w, r, http.StatusUnauthorized, "invalid_session",
			"the session token is not valid here; sign in again", "")
	}
}

// serviceError maps the Service's sentinels to statuses. Anything unmapped is a bug: it
// is logged in full and answered with 500 and the request id only.
func (h *Handler) serviceError(w http.ResponseWriter, r *http.Request, err error) {
	var ie *secrets.InputError
	var de *secrets.DatabaseError
	switch {
	case errors.As(err, &ie):
		writeError(w, r, http.StatusBadRequest, "invalid_input", ie.Message, ie.Field)
	case errors.Is(err, secrets.ErrEmailInUse):
		writeError(w, r, http.StatusConflict, "email_in_use",
			"this email already belongs to another user", "email")
	case errors.Is(err, secrets.ErrSecretNotFound):
		writeError(w, r, http.StatusNotFound, "secret_not_found", "secret not found", "")
	case errors.Is(err, secrets.ErrSecretTriggered):
		writeError(w, r, http.StatusConflict, "secret_triggered",
			"the secret has been triggered and takes no more check-ins", "")
	case errors.Is(err, secrets.ErrRejected):
		if errors.As(err, &de) {
			h.cfg.Logger.WarnContext(r.Context(), "write rejected by a database rule",
				"request_id", requestID(r), "sqlstate", de.Code, "message", de.Message)
		}
		writeError(w, r, http.StatusUnprocessableEntity, "rejected",
			"the database refused this change; it may be temporarily disabled", "")
	case errors.Is(err, secrets.ErrNotMigrated):
		attrs := []any{"request_id", requestID(r), "err", err}
		if errors.As(err, &de) {
			attrs = append(attrs, "sqlstate", de.Code)
		}
		h.cfg.Logger.WarnContext(r.Context(), "database not migrated; run secretsdb migrate up",
			attrs...)
		writeError(w, r, http.StatusServiceUnavailable, "not_migrated",
			"the service's database has no secretsdb schema, or an older one; "+
				"secretsdb migrate up must run first", "")
	case errors.Is(r.Context().Err(), context.DeadlineExceeded):
		// The request's own deadline ended the wait (a row lock, a slow statement, a
		// busy pool): say so, and which limit, rather than blame the database.
		h.cfg.Logger.WarnContext(r.Context(), "request timed out",
			"request_id", requestID(r), "request_timeout", h.cfg.RequestTimeout.String(),
			"err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, r, http.StatusServiceUnavailable, "timeout",
			fmt.Sprintf("the request did not finish within the %s limit; retry shortly",
				h.cfg.RequestTimeout), "")
	case errors.Is(err, secrets.ErrUnavailable), errors.Is(err, r.Context().Err()):
		h.cfg.Logger.WarnContext(r.Context(), "database unavailable",
			"request_id", requestID(r), "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, r, http.StatusServiceUnavailable, "unavailable",
			"the database is unavailable; retry shortly", "")
	default:
		h.cfg.Logger.ErrorContext(r.Context(), "unexpected error",
			"request_id", requestID(r), "err", err)
		writeError(w, r, http.StatusInternalServerError, "internal",
			"internal error; quote the request id when reporting it", "")
	}
}

// allowWrite asks the WriteLimiter whether the session's user may write now, answering
// 429 with Retry-After in whole seconds, rounded up, when not.
func (h *Handler) allowWrite(w http.ResponseWriter, r *http.Request, sess secrets.Session) bool {
	if h.cfg.WriteLimiter == nil {
		return true
	}
	ok, wait := h.cfg.WriteLimiter.Allow(sess.UserID)
	if ok {
		return true
	}
	secs := max(int64(math.Ceil(wait.Seconds())), 1)
	h.cfg.Logger.DebugContext(r.Context(), "rate limited",
		"request_id", requestID(r), "user_id", sess.UserID, "retry_after_s", secs)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeError(w, r, http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("too many writes for this user; retry in %d s", secs), "")
	return false
}
