// Package config is breakwater's one typed configuration tree.
//
// A configuration is built in four layers, each overriding the one before:
// the defaults of Default (the only place a default value is written), a
// YAML file, BREAKWATER_* environment variables, and command-line flags.
// Load does all four and then Validate, whose errors name the key path
// ("upstreams[1].url: must be an absolute http or https URL"). Unknown YAML
// keys are errors too, so a typo never silently falls back to a default.
//
// Passwords are secrets: print Redacted, never the Config itself, and
// never log either. The zero Config is not usable; start from Default.
package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"breakwater/internal/policy"
	"breakwater/internal/vulndb"
)

// Config is the whole configuration. The yaml tags are the key names of
// the configuration file; docs/configuration.md lists them all.
type Config struct {
	// Listen is the host:port the registry API listens on.
	// Default 127.0.0.1:5000.
	Listen string `yaml:"listen"`
	// Data is the directory holding blobs and metadata, created if missing.
	// Default ./data, relative to the working directory.
	Data string `yaml:"data"`
	Log  Log    `yaml:"log"`
	// Cache tunes the pull-through cache.
	Cache Cache `yaml:"cache"`
	// Upstreams are the remote registries breakwater proxies. Exactly one
	// is the default, which serves every repository whose first path
	// component names no upstream. Default: Docker Hub alone.
	Upstreams []Upstream `yaml:"upstreams"`
	// Policies are the firewall's named policies, in order. A list in the
	// file replaces the default list whole. Default policy.Default().
	Policies policy.Set `yaml:"policies"`
	// Firewall sets the firewall's mode per repository and how long a
	// first pull waits for inspection.
	Firewall Firewall `yaml:"firewall"`
	// VulnDB says where the vulnerability data comes from and how often it
	// is refreshed.
	VulnDB VulnDB `yaml:"vulndb"`
	// Auth decides who may pull and how long issued credentials live.
	Auth Auth `yaml:"auth"`
}

// Firewall is the firewall section: policy's settings (mode, fail_open,
// show_reason, block_served, repositories) at the same level as the keys
// only the server needs.
type Firewall struct {
	policy.Firewall `yaml:",inline"`
	// Wait is how long a first pull of an image waits for its inspection;
	// past it the client gets 429 TOOMANYREQUESTS with Retry-After while
	// inspection goes on. A positive duration. Default 30s.
	Wait time.Duration `yaml:"wait"`
}

// On reports whether any repository runs the firewall, in audit or
// quarantine mode.
func (f Firewall) On() bool {
	if f.Mode != policy.ModeOff {
		return true
	}
	for _, r := range f.Repositories {
		if r.Mode != "" && r.Mode != policy.ModeOff {
			return true
		}
	}
	return false
}

// VulnDB configures the local vulnerability database, <data>/vulndb.db.
type VulnDB struct {
	// Refresh is how old a feed's data may get before serve fetches it
	// again. A duration; 0 turns scheduled refreshes off. Default 24h.
	Refresh time.Duration `yaml:"refresh"`
	// Feeds are what serve fetches. Default the public feeds
	// (vulndb.PublicFeeds): the Debian tracker, osv.dev and NVD.
	Feeds []Feed `yaml:"feeds"`
	// LoadAtStart fetches every feed when serve starts with no
	// vulnerability data, even with Refresh off. Default true.
	LoadAtStart bool `yaml:"load_at_start"`
}

// Feed is one source of vulnerability data. In the file it is either a
// mapping with name and url or just the url.
type Feed struct {
	// Name is the source name the data is kept under, so a feed keeps its
	// data when its URL moves to a mirror. Default the URL.
	Name string `yaml:"name"`
	// URL is an http or https URL of a file or zip, or a path on the
	// local disk (a mirror in a closed network). Required.
	URL string `yaml:"url"`
}

// SourceName is the name the feed's data is kept under.
func (f Feed) SourceName() string {
	if f.Name != "" {
		return f.Name
	}
	return f.URL
}

// setScalar lets a feed be written as its URL alone.
func (f *Feed) setScalar(s string) { *f = Feed{URL: s} }

// Log configures the process's structured log.
type Log struct {
	// Level is the lowest level logged: debug, info, warn or error.
	// Default info.
	Level string `yaml:"level"`
	// Format is text (key=value lines) or json. Default text.
	Format string `yaml:"format"`
}

// Cache tunes the pull-through cache.
type Cache struct {
	// TagMaxAge is how long a tag's digest is served without asking the
	// upstream; past it the tag is revalidated with a HEAD request.
	// A duration such as 90s or 5m. Default 5m.
	TagMaxAge time.Duration `yaml:"tag_max_age"`
	// NegativeTTL is how long "the upstream has no such name or tag" is
	// remembered. A duration. Default 30s.
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// RevalidateTimeout bounds the revalidation of a cached tag, retries
	// included; past it the cached digest is served. Default 5s.
	RevalidateTimeout time.Duration `yaml:"revalidate_timeout"`
	// UnhealthyFor is how long an upstream that failed a revalidation is
	// not asked again; cached tags are served at once meanwhile. Default 30s.
	UnhealthyFor time.Duration `yaml:"unhealthy_for"`
	// MaxBlobSize is the largest blob fetched from an upstream, in bytes.
	// Default 68719476736 (64 GiB).
	MaxBlobSize int64 `yaml:"max_blob_size"`
}

// Upstream is one remote registry.
type Upstream struct {
	// Name identifies the upstream in logs, in the store and as the first
	// path component that routes a request to it (/v2/ghcr.io/org/app/...).
	// Lower case and host-like, such as docker.io. Required.
	Name string `yaml:"name"`
	// URL is the remote registry's base URL, http or https. Required.
	URL string `yaml:"url"`
	// Default marks the upstream serving repositories whose first path
	// component names no upstream. Exactly one upstream has it; a lone
	// upstream has it implicitly.
	Default bool `yaml:"default"`
	// DockerHub turns on Docker Hub's implicit library/ prefix for
	// single-component names (node is library/node). Default true for the
	// upstream named docker.io or at registry-1.docker.io, false otherwise.
	DockerHub bool `yaml:"docker_hub"`
	// Aliases are other host names that name this upstream in containerd's
	// ?ns= query parameter. Default for Docker Hub: registry-1.docker.io
	// and index.docker.io; none otherwise.
	Aliases []string `yaml:"aliases"`
	// Username and Password authenticate to the remote; Password is
	// typically a personal or organization access token. Empty means
	// anonymous. Password is a secret: prefer PasswordFile or the
	// environment to writing it in a file that is shared.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PasswordFile is a file whose content (less a trailing newline) is
	// the password, read once at start-up; a relative path is relative to
	// the working directory. Mutually exclusive with Password.
	PasswordFile string `yaml:"password_file"`
	// SearchURL is the base URL of the Docker V1 search endpoint
	// (/v1/search) requests are proxied to. Default https://index.docker.io
	// for Docker Hub; empty (search unsupported) otherwise.
	SearchURL string `yaml:"search_url"`
	// Timeout bounds each upstream request; a blob body is bounded by an
	// idle timeout of the same length instead. A duration. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how many times a request failing with a connection error,
	// a 5xx or a 429 is retried, with backoff. 0 disables. Default 3.
	Retries int `yaml:"retries"`
}

// Default returns the configuration breakwater runs on when nothing is
// configured: Docker Hub proxied on 127.0.0.1:5000 with data in ./data.
// It is the only place default values are written; the defaults of an
// upstream read from a file are taken from the Docker Hub entry here.
func Default() Config {
	return Config{
		Listen: "127.0.0.1:5000",
		Data:   "./data",
		Log:    Log{Level: "info", Format: "text"},
		Cache: Cache{
			TagMaxAge:         5 * time.Minute,
			NegativeTTL:       30 * time.Second,
			RevalidateTimeout: 5 * time.Second,
			UnhealthyFor:      30 * time.Second,
			MaxBlobSize:       64 << 30,
		},
		Policies: policy.Default(),
		Firewall: Firewall{Firewall: policy.DefaultFirewall(), Wait: 30 * time.Second},
		VulnDB: VulnDB{
			Refresh:     24 * time.Hour,
			Feeds:       publicFeeds(),
			LoadAtStart: true,
		},
		Auth: defaultAuth(),
		Upstreams: []Upstream{{
			Name:      "docker.io",
			URL:       "https://registry-1.docker.io",
			Default:   true,
			DockerHub: true,
			Aliases:   []string{"registry-1.docker.io", "index.docker.io"},
			SearchURL: "https://index.docker.io",
			Timeout:   30 * time.Second,
			Retries:   3,
		}},
	}
}

// Flags are the command-line overrides; an empty field is not set.
type Flags struct {
	Listen string
	Data   string
	// Upstream is the default upstream's URL.
	Upstream string
	// Firewall is the mode every repository runs the firewall in,
	// overriding the file's mode and rules: off, audit or quarantine.
	Firewall policy.Mode
}

// Load builds the configuration: Default, then the YAML file at path (none
// if path is empty), then the BREAKWATER_* variables of environ (as
// os.Environ returns it), then flags; and validates the result.
func Load(path string, environ []string, flags Flags) (Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		if err := decodeYAML(b, &c); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
		if len(c.Upstreams) == 1 {
			c.Upstreams[0].Default = true
		}
	}
	if err := applyEnv(&c, environ); err != nil {
		return Config{}, err
	}
	flags.apply(&c)
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func (f Flags) apply(c *Config) {
	if f.Listen != "" {
		c.Listen = f.Listen
	}
	if f.Data != "" {
		c.Data = f.Data
	}
	if u := c.DefaultUpstream(); f.Upstream != "" && u != nil {
		u.moveTo(f.Upstream)
	}
	if f.Firewall != "" {
		c.Firewall.Firewall = c.Firewall.WithMode(f.Firewall)
	}
}

// DefaultUpstream returns the upstream marked default, or nil if none is.
func (c *Config) DefaultUpstream() *Upstream {
	for i := range c.Upstreams {
		if c.Upstreams[i].Default {
			return &c.Upstreams[i]
		}
	}
	return nil
}

// Credentials returns the username and password, reading PasswordFile if
// it is set. Its error names neither the password nor the file's content.
func (u Upstream) Credentials() (username, password string, err error) {
	if u.PasswordFile == "" {
		return u.Username, u.Password, nil
	}
	b, err := os.ReadFile(u.PasswordFile)
	if err != nil {
		return "", "", fmt.Errorf("read password_file of upstream %s: %w", u.Name, err)
	}
	return u.Username, strings.TrimRight(string(b), "\r\n"), nil
}

// isDockerHub reports whether u is Docker Hub by name or by URL, which is
// what decides its Docker Hub defaults.
func (u Upstream) isDockerHub() bool {
	hub := Default().Upstreams[0]
	return u.Name == hub.Name || hostOf(u.URL) == hostOf(hub.URL)
}

// moveTo points u at another URL. Docker Hub's search index stays only
// with Docker Hub: an upstream moved to a mirror or a private registry
// would otherwise still send searches to Docker Hub.
func (u *Upstream) moveTo(url string) {
	hub := Default().Upstreams[0]
	u.URL = url
	if u.SearchURL == hub.SearchURL && hostOf(url) != hostOf(hub.URL) {
		u.SearchURL = ""
	}
}

// fillDefaults sets the defaults of an upstream read from a file, for every
// key the file did not set.
func (u *Upstream) fillDefaults(set map[string]bool) {
	hub := Default().Upstreams[0]
	if !set["timeout"] {
		u.Timeout = hub.Timeout
	}
	if !set["retries"] {
		u.Retries = hub.Retries
	}
	if !u.isDockerHub() {
		return
	}
	if !set["docker_hub"] {
		u.DockerHub = hub.DockerHub
	}
	if !set["aliases"] {
		u.Aliases = append([]string(nil), hub.Aliases...)
		// containerd's mirror requests say ?ns=docker.io whatever this
		// upstream is called here.
		if u.Name != hub.Name {
			u.Aliases = append(u.Aliases, hub.Name)
		}
	}
	if !set["search_url"] {
		u.SearchURL = hub.SearchURL
	}
}

// publicFeeds are vulndb's public feeds as configuration entries.
func publicFeeds() []Feed {
	var out []Feed
	for _, f := range vulndb.PublicFeeds(time.Now()) {
		out = append(out, Feed{Name: f.Name, URL: f.URL})
	}
	return out
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
