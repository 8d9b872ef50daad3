package session

import (
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// Format names the library generation a token comes from.
type Format int

const (
	// FormatV4 is NextAuth.js v4: A256GCM, a key derived without salt, no kid.
	FormatV4 Format = iota + 1
	// FormatV5 is Auth.js v5 (next-auth@5, @auth/core): A256CBC-HS512, a key derived with
	// the cookie name as salt, and a kid naming the key.
	FormatV5
)

// String returns "v4" or "v5".
func (f Format) String() string {
	switch f {
	case FormatV4:
		return "v4"
	case FormatV5:
		return "v5"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

const v4Info = "NextAuth.js Generated Encryption Key"

// key is one derived content-encryption key and what it may open.
type key struct {
	format Format
	enc    jose.ContentEncryption
	bytes  []byte
	// salt is the cookie name a v5 key was derived for; empty for v4.
	salt string
	// kid is the JWK thumbprint the v5 library writes into the header; empty for v4.
	kid string
}

// deriveV4 mirrors next-auth v4's getDerivedEncryptionKey. An empty salt is HKDF's
// all-zero salt, exactly as @panva/hkdf treats "".
func deriveV4(secret string) (key, error) {
	b, err := hkdf.Key(sha256.New, []byte(secret), nil, v4Info, 32)
	if err != nil {
		return key{}, fmt.Errorf("deriving v4 key: %w", err)
	}
	return key{format: FormatV4, enc: jose.A256GCM, bytes: b}, nil
}

// deriveV5 mirrors @auth/core's getDerivedEncryptionKey. The library also decrypts
// A256GCM tokens with a 32-byte key from the same salt and info, so both are supported.
func deriveV5(secret, salt string, enc jose.ContentEncryption) (key, error) {
	var n int
	switch enc {
	case jose.A256CBC_HS512:
		n = 64
	case jose.A256GCM:
		n = 32
	default:
		return key{}, fmt.Errorf("content encryption must be A256CBC-HS512 or A256GCM, got %q",
			enc)
	}
	info := "Auth.js Generated Encryption Key (" + salt + ")"
	b, err := hkdf.Key(sha256.New, []byte(secret), []byte(salt), info, n)
	if err != nil {
		return key{}, fmt.Errorf("deriving v5 key: %w", err)
	}
	return key{format: FormatV5, enc: enc, bytes: b, salt: salt, kid: octThumbprint(b)}, nil
}

// octThumbprint is the RFC 7638 thumbprint of a symmetric JWK, hashed with SHA-256 or
// SHA-512 by key length as jose's calculateJwkThumbprint is called by @auth/core. go-jose
// computes thumbprints only for asymmetric keys, hence this small canonical form: the
// required members "k" and "kty" in lexical order, no whitespace.
func octThumbprint(k []byte) string {
	canonical := `{"k":"` + base64.RawURLEncoding.EncodeToString(k) + `","kty":"oct"}`
	var sum []byte
	if len(k) == 64 {
		s := sha512.Sum512([]byte(canonical))
		sum = s[:]
	} else {
		s := sha256.Sum256([]byte(canonical))
		sum = s[:]
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}
