package secrets

import "time"

// Outcome says how a session's user was resolved.
type Outcome string

// The outcomes ensure_user reports.
const (
	// OutcomeExisting: the user was already stored, by id or through a linked account.
	OutcomeExisting Outcome = "existing"
	// OutcomeCreated: the user was created by this call.
	OutcomeCreated Outcome = "created"
	// OutcomeLinked: the session's id was linked to the user who owns its verified email.
	OutcomeLinked Outcome = "linked"
)

// Session is who is calling: the claims of a signed-in session.
type Session struct {
	// UserID is the session's subject, opaque text (a Google subject has 21+ digits).
	UserID string
	// Email is the session's email, in any case and with any surrounding spaces.
	Email string
	// Name and Image are optional profile claims; empty means absent.
	Name  string
	Image string
	// EmailVerified says the identity provider verified Email.
	EmailVerified bool
	// Provider names the identity provider (google, github, ...); empty when unknown.
	Provider string
}

// User is a resolved user.
type User struct {
	ID      string
	Email   string
	Outcome Outcome
}

// Defaults the schema gives to a secret's optional fields. NewSecret has no implicit
// defaults (a zero is refused, as the SQL routine refuses it), so callers that accept
// absent fields fill them from here.
const (
	DefaultContactMethod = "email"
	DefaultCheckInDays   = 30
	DefaultSharesTotal   = 3
	DefaultThreshold     = 2
)

// NewSecret is a secret to store.
type NewSecret struct {
	Title          string
	RecipientName  string
	RecipientEmail string
	RecipientPhone string
	// ContactMethod is email, phone or both; the matching recipient field is required.
	ContactMethod string
	// CheckInDays is 2..3650: the next check-in is due this many 24-hour periods later.
	CheckInDays int
	// ServerShare is the server's Shamir share, stored as given and never returned.
	ServerShare string
	IV          string
	AuthTag     string
	// SharesTotal is 2..10.
	SharesTotal int
	// Threshold is 2..SharesTotal.
	Threshold int
}

// Created is the result of CreateSecret.
type Created struct {
	SecretID string
	// UserID is the resolved user the secret belongs to: the session's id, or the user
	// it was linked to.
	UserID      string
	Outcome     Outcome
	NextCheckIn time.Time
}

// CheckIn is the result of a recorded check-in.
type CheckIn struct {
	SecretID    string
	UserID      string
	Outcome     Outcome
	CheckedInAt time.Time
	NextCheckIn time.Time
}

// Secret is a stored secret as its owner may see it: without the share, IV or auth tag.
type Secret struct {
	ID             string
	Title          string
	RecipientName  string
	RecipientEmail string
	RecipientPhone string
	ContactMethod  string
	CheckInDays    int
	Status         string
	SharesTotal    int
	Threshold      int
	LastCheckIn    *time.Time
	NextCheckIn    *time.Time
	TriggeredAt    *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}
