package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/secretsdb/secretsdb/internal/session"
)

// runMint runs `secretsdb session mint` with args and the extra environment, returning
// stdout, stderr and the exit code.
func runMint(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, secretsdbBinary(t), append([]string{"session", "mint"},
		args...)...)
	cmd.Env = serverEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("running session mint: %v", err)
	}
	return stdout.String(), stderr.String(), 0
}

// TestSessionMintDecodes mints tokens with the command, in both formats, and reads them
// back with the service's own decoder, then uses one on the API.
func TestSessionMintDecodes(t *testing.T) {
	t.Parallel()
	const secret = "mint-test-secret-0001"

	t.Run("V4", func(t *testing.T) {
		t.Parallel()
		out, stderr, code := runMint(t, []string{"NEXTAUTH_SECRET=" + secret},
			"--format", "v4", "--sub", "103890241628354500674", "--email", "ada@example.com",
			"--name", "Ada")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		c := decodeMinted(t, secret, strings.TrimSpace(out), "next-auth.session-token")
		if c.UserID != "103890241628354500674" || c.Email != "ada@example.com" ||
			c.Name != "Ada" {
			t.Fatalf("claims = %+v", c)
		}
		if strings.Contains(out+stderr, secret) {
			t.Fatal("the secret was printed")
		}
	})

	t.Run("V5JSON", func(t *testing.T) {
		t.Parallel()
		out, stderr, code := runMint(t, []string{"MY_SECRET=" + secret},
			"--format", "v5", "--secret-env", "MY_SECRET", "--sub", "gh-4412",
			"--email", "lin@example.com", "--max-age", "1h", "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var doc struct {
			CookieName string    `json:"cookie_name"`
			Token      string    `json:"token"`
			ExpiresAt  time.Time `json:"expires_at"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("--json output %q: %v", out, err)
		}
		if doc.CookieName != "authjs.session-token" {
			t.Fatalf("cookie_name = %q", doc.CookieName)
		}
		if left := time.Until(doc.ExpiresAt); left < 58*time.Minute || left > time.Hour {
			t.Fatalf("expires_at %s is not an hour away", doc.ExpiresAt)
		}
		c := decodeMinted(t, secret, doc.Token, doc.CookieName)
		if c.UserID != "gh-4412" || c.Email != "lin@example.com" {
			t.Fatalf("claims = %+v", c)
		}

		api := newAPI(t, apiConfig{Env: map[string]string{"AUTH_SECRET": secret}})
		resp := api.createSecret(t,
			[]*http.Cookie{{Name: doc.CookieName, Value: doc.Token}}, secretBody())
		requireCreated(t, resp)
	})
}

// TestSessionMintUsageErrors checks that a bad call says what is wrong and exits 2.
func TestSessionMintUsageErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		env  []string
		args []string
		want string
	}{
		"NoSecret": {nil, []string{"--sub", "u1"}, "AUTH_SECRET"},
		"NoSub":    {[]string{"AUTH_SECRET=s"}, nil, "--sub"},
		"BadFormat": {
			[]string{"AUTH_SECRET=s"}, []string{"--sub", "u1", "--format", "v3"}, "v4 or v5",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, stderr, code := runMint(t, tc.env, tc.args...)
			if code != 2 || out != "" || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2, no token, %q in stderr",
					code, out, stderr, tc.want)
			}
		})
	}
}

func decodeMinted(t *testing.T, secret, token, cookieName string) session.Claims {
	t.Helper()
	d, err := session.NewDecoder(session.Config{Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Decode(token, cookieName)
	if err != nil {
		t.Fatalf("decoding the minted token: %v", err)
	}
	return c
}
