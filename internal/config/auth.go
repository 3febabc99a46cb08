package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Auth is the access-control section: who may pull and how long the
// credentials breakwater hands out live.
type Auth struct {
	// PublicURL is the base URL clients reach breakwater at, such as
	// https://registry.example.com; the token realm in a 401's challenge
	// is built from it. Empty means derived from each request (its Host,
	// https only when the connection itself is TLS): forwarded headers
	// are never trusted, so behind a proxy this must be set.
	PublicURL string `yaml:"public_url"`
	// AnonymousPull lets clients without credentials pull. Default false.
	AnonymousPull bool `yaml:"anonymous_pull"`
	// TokenTTL is the lifetime of a registry bearer token issued by
	// /auth/token. A positive duration. Default 5m.
	TokenTTL time.Duration `yaml:"token_ttl"`
	// SessionTTL is the lifetime of a dashboard login session. A positive
	// duration. Default 12h.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// LoginLimit is how many failed logins per minute one client may make
	// for one user before further attempts are refused. Default 10.
	LoginLimit int `yaml:"login_limit"`
}

// defaultAuth is the auth section of Default.
func defaultAuth() Auth {
	return Auth{
		TokenTTL:   5 * time.Minute,
		SessionTTL: 12 * time.Hour,
		LoginLimit: 10,
	}
}

// validate reports the section's problems, each naming its key.
func (a Auth) validate() []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if a.PublicURL != "" {
		if err := checkPublicURL(a.PublicURL); err != nil {
			bad("auth.public_url", "%v, not %q", err, a.PublicURL)
		}
	}
	if a.TokenTTL <= 0 {
		bad("auth.token_ttl", "must be positive")
	}
	if a.SessionTTL <= 0 {
		bad("auth.session_ttl", "must be positive")
	}
	if a.LoginLimit <= 0 {
		bad("auth.login_limit", "must be a positive number of failures per minute")
	}
	return errs
}

// checkPublicURL accepts an http or https base URL, optionally with a
// path prefix, without query, fragment or user info.
func checkPublicURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http or https URL")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(raw, "?") {
		return fmt.Errorf("must have no query, fragment or user info")
	}
	return nil
}
