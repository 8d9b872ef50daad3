package session

import (
	"fmt"
	"strings"
)

// ConfigFromEnv reads the secrets the web app reads, through lookup (os.LookupEnv in
// production, a map in tests), in the order @auth/core's setEnvDefaults assembles them:
// AUTH_SECRET_3, AUTH_SECRET_2, AUTH_SECRET_1, then AUTH_SECRET. The library encrypts new
// sessions with the first secret in that list, so the highest-numbered one set is the
// current secret and AUTH_SECRET the oldest. NEXTAUTH_SECRET, the v4 name that next-auth
// v5 still honours, comes last. Unset and empty variables are skipped, as the library
// skips them, and a value repeated under two names is kept once.
//
// The secrets are used exactly as set, without trimming, because the library derives
// keys from the raw value. ErrNoSecret is returned when none is set.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	names := []string{
		"AUTH_SECRET_3", "AUTH_SECRET_2", "AUTH_SECRET_1", "AUTH_SECRET", "NEXTAUTH_SECRET",
	}
	var cfg Config
	seen := make(map[string]bool)
	for _, name := range names {
		v, ok := lookup(name)
		if !ok || v == "" || seen[v] {
			continue
		}
		seen[v] = true
		cfg.Secrets = append(cfg.Secrets, v)
	}
	if len(cfg.Secrets) == 0 {
		return Config{}, fmt.Errorf("%w: set AUTH_SECRET (or NEXTAUTH_SECRET) to the web app's "+
			"secret; %s are read", ErrNoSecret, strings.Join(names, ", "))
	}
	return cfg, nil
}
