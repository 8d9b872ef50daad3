package session

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Chunk sizes are SessionStore's CHUNK_SIZE: 4096 bytes, the smallest per-cookie limit
// browsers must support, less the library's estimate of an empty cookie's attributes
// (163 bytes in next-auth v4, 160 in @auth/core).
const (
	chunkSizeV4 = 4096 - 163
	chunkSizeV5 = 4096 - 160
)

// mintPayload is the token the libraries' default jwt callback writes, followed by the
// claims their encode adds, in the same order. JSON.stringify drops undefined members,
// hence omitempty on the profile fields.
type mintPayload struct {
	Name          string `json:"name,omitempty"`
	Email         string `json:"email,omitempty"`
	Picture       string `json:"picture,omitempty"`
	Sub           string `json:"sub"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	IssuedAt      int64  `json:"iat"`
	ExpiresAt     int64  `json:"exp"`
	JTI           string `json:"jti"`
}

// Mint produces a session token as the library of format f would: the same header
// ({"alg":"dir","enc":"A256GCM"} for v4; A256CBC-HS512 with the key's kid for v5), the
// same key derivation, and a payload of c's profile claims with sub = c.UserID, then
// iat = now, exp = now + maxAge (whole seconds, negative for an already expired token)
// and a random UUID jti. email_verified is written only when true; the libraries write
// it only if the app's jwt callback adds it. c's time fields are ignored. cookieName is
// the v5 salt, the cookie the token will travel in; v4 ignores it.
func Mint(c Claims, secret string, f Format, cookieName string, maxAge time.Duration,
	now time.Time) (string, error) {
	if c.UserID == "" {
		return "", fmt.Errorf("minting token: user id must be non-empty")
	}
	iat := now.Unix()
	body, err := json.Marshal(mintPayload{
		Name:          c.Name,
		Email:         c.Email,
		Picture:       c.Picture,
		Sub:           c.UserID,
		EmailVerified: c.EmailVerified,
		IssuedAt:      iat,
		ExpiresAt:     iat + int64(maxAge/time.Second),
		JTI:           newUUID(),
	})
	if err != nil {
		return "", fmt.Errorf("minting token: %w", err)
	}
	return mintRaw(body, secret, f, cookieName)
}

// newUUID returns a random (version 4) UUID, the jti format both libraries use.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it crashes the program instead.
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// mintRaw encrypts an arbitrary payload, so tests can build tokens the libraries would
// never write, such as a numeric sub.
func mintRaw(payload []byte, secret string, f Format, cookieName string) (string, error) {
	if secret == "" {
		return "", fmt.Errorf("minting token: %w", ErrNoSecret)
	}
	var k key
	var err error
	switch f {
	case FormatV4:
		k, err = deriveV4(secret)
	case FormatV5:
		if cookieName == "" {
			return "", fmt.Errorf("minting v5 token: cookie name must be non-empty")
		}
		k, err = deriveV5(secret, cookieName, jose.A256CBC_HS512)
	default:
		return "", fmt.Errorf("minting token: format must be v4 or v5, got %v", f)
	}
	if err != nil {
		return "", err
	}

	enc, err := jose.NewEncrypter(k.enc,
		jose.Recipient{Algorithm: jose.DIRECT, Key: k.bytes, KeyID: k.kid}, nil)
	if err != nil {
		return "", fmt.Errorf("minting token: %w", err)
	}
	obj, err := enc.Encrypt(payload)
	if err != nil {
		return "", fmt.Errorf("minting token: %w", err)
	}
	return obj.CompactSerialize()
}

// ChunkCookies splits a token into the cookies the library of format f would set under
// name: one cookie called name when it fits in a chunk, else name.0, name.1, ... each
// holding at most one chunk, and none for an empty token. Only names and values are set;
// attributes are the caller's.
func ChunkCookies(name, token string, f Format) []*http.Cookie {
	size := chunkSizeV5
	if f == FormatV4 {
		size = chunkSizeV4
	}
	if token == "" {
		return nil
	}
	if len(token) <= size {
		return []*http.Cookie{{Name: name, Value: token}}
	}
	var cookies []*http.Cookie
	for i := 0; len(token) > 0; i++ {
		n := min(size, len(token))
		cookies = append(cookies, &http.Cookie{
			Name:  name + "." + strconv.Itoa(i),
			Value: token[:n],
		})
		token = token[n:]
	}
	return cookies
}
