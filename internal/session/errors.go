package session

import (
	"errors"
	"fmt"
)

// The errors below are returned wrapped; test for them with errors.Is. Their messages never
// contain a token, a secret or any part of one.
var (
	// ErrNoSession means the request carries neither a session cookie nor a bearer token:
	// the caller is anonymous, which is not the same as presenting a bad token.
	ErrNoSession = errors.New("session: no session token in request")

	// ErrInvalid means a token was presented but cannot be trusted or read: it is
	// malformed, was encrypted with a secret this service does not hold, was tampered
	// with, or carries claims of the wrong type. A *ClaimError also matches it.
	ErrInvalid = errors.New("session: invalid session token")

	// ErrExpired means the token decrypted but its exp lies more than ClockTolerance in
	// the past: the user must sign in again.
	ErrExpired = errors.New("session: session token expired")

	// ErrNotYetValid means the token decrypted but its nbf lies more than ClockTolerance
	// in the future, which points at a clock far off on one side.
	ErrNotYetValid = errors.New("session: session token not yet valid")

	// ErrNoSecret means the configuration holds no secret, so no token could ever be
	// verified; the service should refuse to start rather than treat everyone as anonymous.
	ErrNoSecret = errors.New("session: no secret configured")
)

// ClaimError reports a claim of the wrong JSON type, or a missing required claim, in a
// token that decrypted correctly. It matches ErrInvalid under errors.Is. An API may answer
// it with 400 rather than 401, since re-authenticating will not change the token's shape.
type ClaimError struct {
	// Claim is the claim's name in the token, such as "sub" or "exp".
	Claim string
	// Want describes what the claim must be, such as "a string".
	Want string
	// Got is the JSON type found ("number", "object", ...), or "nothing" when absent.
	Got string
}

func (e *ClaimError) Error() string {
	return fmt.Sprintf("%v: claim %s must be %s, got %s", ErrInvalid, e.Claim, e.Want, e.Got)
}

// Unwrap lets errors.Is(err, ErrInvalid) hold for every claim error.
func (e *ClaimError) Unwrap() error { return ErrInvalid }
