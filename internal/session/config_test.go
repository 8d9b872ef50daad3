package session

import (
	"errors"
	"slices"
	"testing"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"AuthSecretOnly", map[string]string{"AUTH_SECRET": "a"}, []string{"a"}},
		{"NextAuthSecretOnly", map[string]string{"NEXTAUTH_SECRET": "n"}, []string{"n"}},
		{
			"RotationNewestNumberFirst",
			map[string]string{
				"AUTH_SECRET": "a", "AUTH_SECRET_1": "a1", "AUTH_SECRET_3": "a3",
				"NEXTAUTH_SECRET": "n",
			},
			[]string{"a3", "a1", "a", "n"},
		},
		{
			"EmptyAndDuplicateSkipped",
			map[string]string{"AUTH_SECRET": "a", "AUTH_SECRET_2": "", "NEXTAUTH_SECRET": "a"},
			[]string{"a"},
		},
		{"Untrimmed", map[string]string{"AUTH_SECRET": " a "}, []string{" a "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			cfg, err := ConfigFromEnv(envMap(tt.env))

			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			if !slices.Equal(cfg.Secrets, tt.want) {
				t.Fatalf("secrets %q, want %q", cfg.Secrets, tt.want)
			}
		})
	}
}

func TestConfigFromEnvNone(t *testing.T) {
	t.Parallel()

	_, err := ConfigFromEnv(envMap(map[string]string{"AUTH_SECRET": "", "AUTH_URL": "x"}))

	if !errors.Is(err, ErrNoSecret) {
		t.Fatalf("error %v, want ErrNoSecret", err)
	}
}
