package httpapi

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/secretsdb/secretsdb/internal/secrets"
)

// createRequest is POST /api/secrets's body, with the seed app's snake_case names.
// Pointers tell an absent field (the schema's default) from a zero one (an error).
type createRequest struct {
	Title          string  `json:"title"`
	RecipientName  string  `json:"recipient_name"`
	RecipientEmail string  `json:"recipient_email"`
	RecipientPhone string  `json:"recipient_phone"`
	ContactMethod  *string `json:"contact_method"`
	CheckInDays    *int    `json:"check_in_days"`
	ServerShare    string  `json:"server_share"`
	IV             string  `json:"iv"`
	AuthTag        string  `json:"auth_tag"`
	SharesTotal    *int    `json:"sss_shares_total"`
	Threshold      *int    `json:"sss_threshold"`
}

// secretJSON is a secret as the API returns it: never the share, IV or auth tag.
type secretJSON struct {
	ID             string     `json:"id"`
	Title          string     `json:"title"`
	RecipientName  string     `json:"recipient_name"`
	RecipientEmail *string    `json:"recipient_email"`
	RecipientPhone *string    `json:"recipient_phone"`
	ContactMethod  string     `json:"contact_method"`
	CheckInDays    int        `json:"check_in_days"`
	Status         string     `json:"status"`
	SharesTotal    int        `json:"sss_shares_total"`
	Threshold      int        `json:"sss_threshold"`
	LastCheckIn    *time.Time `json:"last_check_in"`
	NextCheckIn    *time.Time `json:"next_check_in"`
	TriggeredAt    *time.Time `json:"triggered_at,omitempty"`
	CreatedAt      *time.Time `json:"created_at,omitempty"`
	UpdatedAt      *time.Time `json:"updated_at,omitempty"`
}

func (h *Handler) createSecret(w http.ResponseWriter, r *http.Request) {
	sess, ok := h.session(w, r)
	if !ok || !h.allowWrite(w, r, sess) {
		return
	}
	var req createRequest
	if !h.decodeBody(w, r, &req) {
		return
	}

	n := secrets.NewSecret{
		Title:          req.Title,
		RecipientName:  req.RecipientName,
		RecipientEmail: req.RecipientEmail,
		RecipientPhone: req.RecipientPhone,
		ContactMethod:  deref(req.ContactMethod, secrets.DefaultContactMethod),
		CheckInDays:    deref(req.CheckInDays, secrets.DefaultCheckInDays),
		ServerShare:    req.ServerShare,
		IV:             req.IV,
		AuthTag:        req.AuthTag,
		SharesTotal:    deref(req.SharesTotal, secrets.DefaultSharesTotal),
		Threshold:      deref(req.Threshold, secrets.DefaultThreshold),
	}
	created, err := h.cfg.Service.CreateSecret(r.Context(), sess, n)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}

	w.Header().Set("Location", "/api/secrets/"+created.SecretID)
	writeJSON(w, http.StatusCreated, secretJSON{
		ID:             created.SecretID,
		Title:          n.Title,
		RecipientName:  n.RecipientName,
		RecipientEmail: optString(normalizedEmail(n.RecipientEmail)),
		RecipientPhone: optString(n.RecipientPhone),
		ContactMethod:  n.ContactMethod,
		CheckInDays:    n.CheckInDays,
		Status:         "active",
		SharesTotal:    n.SharesTotal,
		Threshold:      n.Threshold,
		NextCheckIn:    &created.NextCheckIn,
	})
}

func (h *Handler) checkIn(w http.ResponseWriter, r *http.Request) {
	sess, ok := h.session(w, r)
	if !ok || !h.allowWrite(w, r, sess) {
		return
	}
	res, err := h.cfg.Service.CheckIn(r.Context(), sess, r.PathValue("id"))
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"secret_id":     res.SecretID,
		"last_check_in": res.CheckedInAt,
		"next_check_in": res.NextCheckIn,
	})
}

func (h *Handler) listSecrets(w http.ResponseWriter, r *http.Request) {
	sess, ok := h.session(w, r)
	if !ok {
		return
	}
	list, err := h.cfg.Service.ListSecrets(r.Context(), sess)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}

	out := make([]secretJSON, len(list))
	for i, s := range list {
		out[i] = toSecretJSON(s)
	}
	writeJSON(w, http.StatusOK, map[string]any{"secrets": out})
}

func (h *Handler) getSecret(w http.ResponseWriter, r *http.Request) {
	sess, ok := h.session(w, r)
	if !ok {
		return
	}
	s, err := h.cfg.Service.GetSecret(r.Context(), sess, r.PathValue("id"))
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toSecretJSON(s))
}

func toSecretJSON(s secrets.Secret) secretJSON {
	return secretJSON{
		ID:             s.ID,
		Title:          s.Title,
		RecipientName:  s.RecipientName,
		RecipientEmail: optString(s.RecipientEmail),
		RecipientPhone: optString(s.RecipientPhone),
		ContactMethod:  s.ContactMethod,
		CheckInDays:    s.CheckInDays,
		Status:         s.Status,
		SharesTotal:    s.SharesTotal,
		Threshold:      s.Threshold,
		LastCheckIn:    s.LastCheckIn,
		NextCheckIn:    s.NextCheckIn,
		TriggeredAt:    s.TriggeredAt,
		CreatedAt:      &s.CreatedAt,
		UpdatedAt:      &s.UpdatedAt,
	}
}

func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	v, err := h.cfg.Service.SchemaVersion(r.Context())
	if err != nil {
		var reason string
		switch {
		case errors.Is(err, secrets.ErrNotMigrated):
			// schema_version() arrived with migration 5: a database without it answers,
			// but is empty or older than that.
			reason = "the database has no secretsdb schema, or an older one; " +
				"run secretsdb migrate up"
		case errors.Is(err, secrets.ErrUnavailable), r.Context().Err() != nil:
			reason = "the database cannot be reached"
		default:
			// A role without EXECUTE on schema_version(), say: reachable, yet not ready.
			reason = "the database refused to report its schema version; see the log"
		}
		h.cfg.Logger.WarnContext(r.Context(), "not ready", "request_id", requestID(r),
			"reason", reason, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "unavailable", "reason": reason,
		})
		return
	}
	if v < h.cfg.SchemaVersion {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status":          "unavailable",
			"reason":          "the database schema is behind this binary; run secretsdb migrate up",
			"schema_version":  v,
			"expected_schema": h.cfg.SchemaVersion,
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "schema_version": v})
}

// session reads the caller's session, answering 401 (or 400 for a malformed claim) when
// there is none.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) (secrets.Session, bool) {
	c, err := h.cfg.Sessions.FromRequest(r)
	if err != nil {
		h.sessionError(w, r, err)
		return secrets.Session{}, false
	}
	return secrets.Session{
		UserID:        c.UserID,
		Email:         c.Email,
		Name:          c.Name,
		Image:         c.Picture,
		EmailVerified: c.EmailVerified,
	}, true
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// optString is nil for what the database stores as NULL: an empty or whitespace-only
// optional field.
func optString(s string) *string {
	if strings.Trim(s, " \t\n\r\f\v") == "" {
		return nil
	}
	return &s
}

// normalizedEmail mirrors the stored form of a recipient email for the 201 response.
func normalizedEmail(s string) string {
	return string(bytes.ToLower(bytes.Trim([]byte(s), " \t\n\r\f\v")))
}
