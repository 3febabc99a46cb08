package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// upstreamName is host-like (letters, digits, dots and dashes, lower case)
// and a subset of the spec's repository path-component grammar, because a
// name is also the first component of the repositories it serves.
var (
	upstreamName = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|-+)[a-z0-9]+)*$`)
	aliasName    = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|-+)[a-z0-9]+)*(?::[0-9]+)?$`)
)

// maxUpstreamName keeps room for the repository path after the name within
// the spec's 255 characters.
const maxUpstreamName = 128

// Validate reports every problem in c, each naming its key path, joined
// with errors.Join; nil means c is usable.
func (c Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}

	if err := checkHostPort(c.Listen); err != nil {
		bad("listen", "%v", err)
	}
	if c.Data == "" {
		bad("data", "must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "must be text or json, not %q", c.Log.Format)
	}
	if c.Cache.TagMaxAge <= 0 {
		bad("cache.tag_max_age", "must be positive")
	}
	if c.Cache.NegativeTTL <= 0 {
		bad("cache.negative_ttl", "must be positive")
	}
	if c.Cache.RevalidateTimeout <= 0 {
		bad("cache.revalidate_timeout", "must be positive")
	}
	if c.Cache.UnhealthyFor <= 0 {
		bad("cache.unhealthy_for", "must be positive")
	}
	if c.Cache.MaxBlobSize <= 0 {
		bad("cache.max_blob_size", "must be a positive number of bytes")
	}

	errs = append(errs, c.validateUpstreams()...)

	// The policy types name their own key paths ("policies[2].action").
	errs = append(errs, unjoin(c.Policies.Validate())...)
	errs = append(errs, unjoin(c.Firewall.Validate())...)
	if c.Firewall.Wait <= 0 {
		bad("firewall.wait", "must be positive")
	}
	errs = append(errs, c.validateVulnDB()...)
	errs = append(errs, c.Auth.validate()...)
	return errors.Join(errs...)
}

func (c Config) validateVulnDB() []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if c.VulnDB.Refresh < 0 {
		bad("vulndb.refresh", "must not be negative")
	}
	owner := map[string]string{}
	for i, f := range c.VulnDB.Feeds {
		p := fmt.Sprintf("vulndb.feeds[%d]", i)
		if f.URL == "" {
			bad(p+".url", "must not be empty")
			continue
		}
		if strings.Contains(f.URL, "://") {
			if err := checkFeedURL(f.URL); err != nil {
				bad(p+".url", "%v", err)
			}
		}
		name := f.SourceName()
		if owner[name] != "" {
			bad(p+".name", "%q is already used by %s", name, owner[name])
			continue
		}
		owner[name] = p
	}
	return errs
}

// checkFeedURL accepts http and https URLs; a feed URL may carry a query
// (a signed mirror link), unlike an upstream's base URL.
func checkFeedURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an http or https URL or a local path")
	}
	return nil
}

// unjoin splits an errors.Join result so every problem is one line of
// the joined whole.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (c Config) validateUpstreams() []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if len(c.Upstreams) == 0 {
		bad("upstreams", "at least one upstream is required")
		return errs
	}

	// Names and aliases share one namespace: both route requests.
	owner := map[string]string{}
	defaults := 0
	for i, u := range c.Upstreams {
		p := fmt.Sprintf("upstreams[%d]", i)
		switch {
		case u.Name == "":
			bad(p+".name", "must not be empty")
		case len(u.Name) > maxUpstreamName || !upstreamName.MatchString(u.Name):
			bad(p+".name", "%q must be lower case and host-like (letters, digits, dots, dashes), as docker.io or ghcr.io", u.Name)
		case owner[u.Name] != "":
			bad(p+".name", "%q is already used by %s", u.Name, owner[u.Name])
		default:
			owner[u.Name] = p + ".name"
		}
		for j, a := range u.Aliases {
			ap := fmt.Sprintf("%s.aliases[%d]", p, j)
			switch {
			case !aliasName.MatchString(a):
				bad(ap, "%q must be a lower-case host name, optionally with :port", a)
			case owner[a] != "":
				bad(ap, "%q is already used by %s", a, owner[a])
			default:
				owner[a] = ap
			}
		}
		if u.Default {
			defaults++
		}
		if err := checkURL(u.URL); err != nil {
			bad(p+".url", "%v, not %q", err, u.URL)
		}
		if u.SearchURL != "" {
			if err := checkURL(u.SearchURL); err != nil {
				bad(p+".search_url", "%v", err)
			}
		}
		if u.Password != "" && u.PasswordFile != "" {
			bad(p, "password and password_file must not both be set")
		}
		if (u.Password != "" || u.PasswordFile != "") && u.Username == "" {
			bad(p+".username", "must be set when a password is")
		}
		if u.Timeout <= 0 {
			bad(p+".timeout", "must be positive")
		}
		if u.Retries < 0 {
			bad(p+".retries", "must not be negative")
		}
	}
	if defaults != 1 {
		bad("upstreams", "exactly one upstream must have default: true, found %d", defaults)
	}
	return errs
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http or https URL")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("must have no query, fragment or user info")
	}
	// breakwater adds /v2/ itself; with it in the URL every pull would
	// ask for /v2/v2/... and look like a missing image.
	if strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/v2") {
		return errors.New("must be the registry's base URL, without /v2")
	}
	return nil
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port, such as 127.0.0.1:5000, not %q", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be a number from 0 to 65535, not %q", port)
	}
	return nil
}
