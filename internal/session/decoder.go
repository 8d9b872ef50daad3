package session

import (
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ClockTolerance is how far exp and nbf may be off before a token is refused. It is the
// 15 seconds both libraries pass to jose, so the service and the web app agree on when a
// session ends even when their clocks differ slightly.
const ClockTolerance = 15 * time.Second

// maxTokenBytes bounds the work one request can ask for. A genuine token holds a user's
// profile and fits in one or a few 4 KB chunks, so 64 KiB leaves ample room.
const maxTokenBytes = 64 << 10

// encs are the content encryptions the libraries produce or accept; alg is always "dir".
var encs = []jose.ContentEncryption{jose.A256CBC_HS512, jose.A256GCM}

// Config configures a Decoder.
type Config struct {
	// Secrets are the app's secrets, current first, older ones after it so sessions
	// issued before a rotation stay valid until they expire. At least one is required.
	// ConfigFromEnv fills it from the web app's environment.
	Secrets []string
	// Now is the clock used for exp and nbf. Nil means time.Now; tests inject a fixed one.
	Now func() time.Time
}

// Decoder decrypts and checks session tokens. It is safe for concurrent use: all its
// state is built by NewDecoder and only read afterwards.
type Decoder struct {
	secrets []string
	now     func() time.Time
	// v4 holds one key per secret, in the order of the secrets.
	v4 []key
	// v5 holds, per session cookie name and per secret, one key for each enc.
	v5 map[string][]key
	// byKid indexes the v5 keys by the kid the library writes for them.
	byKid map[string]key
}

// NewDecoder derives every key up front, so decoding a token costs one decryption, or
// one per secret for v4 tokens, which carry no kid.
func NewDecoder(cfg Config) (*Decoder, error) {
	if len(cfg.Secrets) == 0 {
		return nil, ErrNoSecret
	}
	d := &Decoder{
		secrets: make([]string, 0, len(cfg.Secrets)),
		now:     cfg.Now,
		v5:      make(map[string][]key),
		byKid:   make(map[string]key),
	}
	if d.now == nil {
		d.now = time.Now
	}

	for i, s := range cfg.Secrets {
		if s == "" {
			return nil, fmt.Errorf("%w: secret %d of %d is empty",
				ErrNoSecret, i+1, len(cfg.Secrets))
		}
		d.secrets = append(d.secrets, s)
		k, err := deriveV4(s)
		if err != nil {
			return nil, err
		}
		d.v4 = append(d.v4, k)
	}

	for _, name := range cookieNames {
		keys, err := deriveAll(d.secrets, name)
		if err != nil {
			return nil, err
		}
		d.v5[name] = keys
		for _, k := range keys {
			// The newest secret keeps a kid; a clash would take a SHA-512 collision.
			if _, dup := d.byKid[k.kid]; !dup {
				d.byKid[k.kid] = k
			}
		}
	}
	return d, nil
}

// deriveAll derives the v5 keys of every secret for one salt, newest secret first.
func deriveAll(secrets []string, salt string) ([]key, error) {
	keys := make([]key, 0, len(secrets)*len(encs))
	for _, s := range secrets {
		for _, enc := range encs {
			k, err := deriveV5(s, salt, enc)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// Decode decrypts token and checks its claims. cookieName is the cookie the token came
// in, which Auth.js v5 uses as the key-derivation salt. Pass "" for a token from an
// Authorization header, which arrives without its cookie: every name CookieNames returns
// is then tried as the salt. v4 tokens need no salt and decode whatever cookieName is.
func (d *Decoder) Decode(token, cookieName string) (Claims, error) {
	if token == "" {
		return Claims{}, ErrNoSession
	}
	if len(token) > maxTokenBytes {
		return Claims{}, fmt.Errorf("%w: token is %d bytes, limit %d",
			ErrInvalid, len(token), maxTokenBytes)
	}

	// go-jose errors quote header fragments, so they are replaced, never wrapped.
	obj, err := jose.ParseEncryptedCompact(token, []jose.KeyAlgorithm{jose.DIRECT}, encs)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: not a compact JWE with alg dir", ErrInvalid)
	}
	enc, _ := obj.Header.ExtraHeaders[jose.HeaderKey("enc")].(string)

	keys, err := d.candidates(jose.ContentEncryption(enc), obj.Header.KeyID, cookieName)
	if err != nil {
		return Claims{}, err
	}
	var payload []byte
	for _, k := range keys {
		if payload, err = obj.Decrypt(k.bytes); err == nil {
			break
		}
	}
	if err != nil || len(keys) == 0 {
		return Claims{}, fmt.Errorf("%w: no configured secret decrypts the token", ErrInvalid)
	}

	c, err := parseClaims(payload)
	if err != nil {
		return Claims{}, err
	}
	if err := d.checkTime(c); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// candidates lists the keys worth trying, in order. A kid names exactly one key, so a
// v5 token costs one decryption; without a kid every secret is tried, newest first, as
// for v4 tokens.
func (d *Decoder) candidates(enc jose.ContentEncryption, kid, cookieName string) ([]key, error) {
	var pool []key
	if cookieName == "" {
		for _, name := range cookieNames {
			pool = append(pool, d.v5[name]...)
		}
	} else if known, ok := d.v5[cookieName]; ok {
		pool = known
	} else {
		// An app may rename its cookie; such keys are derived per call, which costs
		// microseconds next to the decryption.
		var err error
		if pool, err = deriveAll(d.secrets, cookieName); err != nil {
			return nil, err
		}
	}

	if kid != "" {
		k, ok := d.byKid[kid]
		if ok && k.enc == enc && (cookieName == "" || k.salt == cookieName) {
			return []key{k}, nil
		}
		for _, k := range pool {
			if k.kid == kid && k.enc == enc {
				return []key{k}, nil
			}
		}
		return nil, fmt.Errorf("%w: no configured secret matches the token's key id", ErrInvalid)
	}

	var keys []key
	if enc == jose.A256GCM {
		keys = append(keys, d.v4...)
	}
	for _, k := range pool {
		if k.enc == enc {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// checkTime applies the libraries' rule: jose compares whole seconds, refusing
// exp <= now - tolerance and nbf > now + tolerance.
func (d *Decoder) checkTime(c Claims) error {
	now := time.Unix(d.now().Unix(), 0)
	if !c.ExpiresAt.After(now.Add(-ClockTolerance)) {
		return fmt.Errorf("%w: exp %s is not after %s minus %s", ErrExpired,
			c.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339),
			ClockTolerance)
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(ClockTolerance)) {
		return fmt.Errorf("%w: nbf %s is after %s plus %s", ErrNotYetValid,
			c.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339),
			ClockTolerance)
	}
	return nil
}
