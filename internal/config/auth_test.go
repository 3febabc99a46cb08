package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAuthDefaults(t *testing.T) {
	a := Default().Auth
	want := Auth{TokenTTL: 5 * time.Minute, SessionTTL: 12 * time.Hour, LoginLimit: 10}
	if a != want {
		t.Errorf("Default().Auth = %+v, want %+v", a, want)
	}
}

func TestAuthValidate(t *testing.T) {
	tests := []struct {
		name string
		mut  func(a *Auth)
		want string // "" = valid
	}{
		{"defaults", func(a *Auth) {}, ""},
		{"public url", func(a *Auth) { a.PublicURL = "https://registry.example.com" }, ""},
		{"public url with path", func(a *Auth) { a.PublicURL = "https://example.com/registry" }, ""},
		{"public url not absolute", func(a *Auth) { a.PublicURL = "registry.example.com" }, `auth.public_url: must be an absolute http or https URL, not "registry.example.com"`},
		{"public url wrong scheme", func(a *Auth) { a.PublicURL = "ftp://x" }, "auth.public_url: must be an absolute http or https URL"},
		{"public url with query", func(a *Auth) { a.PublicURL = "https://x/?a=b" }, "auth.public_url: must have no query"},
		{"public url with user", func(a *Auth) { a.PublicURL = "https://u:p@x" }, "auth.public_url: must have no query"},
		{"token ttl zero", func(a *Auth) { a.TokenTTL = 0 }, "auth.token_ttl: must be positive"},
		{"session ttl negative", func(a *Auth) { a.SessionTTL = -time.Second }, "auth.session_ttl: must be positive"},
		{"login limit zero", func(a *Auth) { a.LoginLimit = 0 }, "auth.login_limit: must be a positive number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := with(func(c *Config) { tt.mut(&c.Auth) }).Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestAuthLoad(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	yaml := "auth:\n  public_url: https://registry.example.com\n  token_ttl: 2m\n  login_limit: 3\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		environ []string
		want    Auth
	}{
		{"file", file, nil, Auth{PublicURL: "https://registry.example.com", TokenTTL: 2 * time.Minute, SessionTTL: 12 * time.Hour, LoginLimit: 3}},
		{"env over file", file, []string{"BREAKWATER_AUTH_ANONYMOUS_PULL=true", "BREAKWATER_AUTH_TOKEN_TTL=90s", "BREAKWATER_AUTH_SESSION_TTL=1h", "BREAKWATER_AUTH_PUBLIC_URL=http://127.0.0.1:5000"},
			Auth{PublicURL: "http://127.0.0.1:5000", AnonymousPull: true, TokenTTL: 90 * time.Second, SessionTTL: time.Hour, LoginLimit: 3}},
		{"env alone", "", []string{"BREAKWATER_AUTH_LOGIN_LIMIT=20"}, Auth{TokenTTL: 5 * time.Minute, SessionTTL: 12 * time.Hour, LoginLimit: 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.path, tt.environ, Flags{})
			if err != nil {
				t.Fatal(err)
			}
			if c.Auth != tt.want {
				t.Errorf("Auth = %+v, want %+v", c.Auth, tt.want)
			}
		})
	}

	t.Run("bad env names its variable", func(t *testing.T) {
		_, err := Load("", []string{"BREAKWATER_AUTH_ANONYMOUS_PULL=yes please"}, Flags{})
		if err == nil || !strings.Contains(err.Error(), "BREAKWATER_AUTH_ANONYMOUS_PULL (auth.anonymous_pull)") {
			t.Errorf("Load: %v, want an error naming the variable and key", err)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		os.WriteFile(bad, []byte("auth:\n  anonymous: true\n"), 0o600)
		_, err := Load(bad, nil, Flags{})
		if err == nil || !strings.Contains(err.Error(), "auth.anonymous: unknown key") {
			t.Errorf("Load: %v, want auth.anonymous: unknown key", err)
		}
	})
}
