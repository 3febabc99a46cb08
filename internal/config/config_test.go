package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/policy"
)

// writeFile writes content to a file in a fresh temporary directory and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// with returns Default changed by f.
func with(f func(c *Config)) Config {
	c := Default()
	f(&c)
	return c
}

func TestDefault(t *testing.T) {
	c, err := Load("", nil, Flags{})
	if err != nil {
		t.Fatalf("Load on defaults: %v", err)
	}
	if diff := cmp.Diff(c, Default()); diff != "" {
		t.Errorf("Load with nothing set differs from Default (-got +want):\n%s", diff)
	}

	tests := []struct {
		name string
		got  any
		want any
	}{
		{"listen", c.Listen, "127.0.0.1:5000"},
		{"data", c.Data, "./data"},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "text"},
		{"cache.tag_max_age", c.Cache.TagMaxAge, 5 * time.Minute},
		{"cache.negative_ttl", c.Cache.NegativeTTL, 30 * time.Second},
		{"upstreams count", len(c.Upstreams), 1},
		{"upstreams[0].name", c.Upstreams[0].Name, "docker.io"},
		{"upstreams[0].url", c.Upstreams[0].URL, "https://registry-1.docker.io"},
		{"upstreams[0].default", c.Upstreams[0].Default, true},
		{"upstreams[0].docker_hub", c.Upstreams[0].DockerHub, true},
		{"upstreams[0].search_url", c.Upstreams[0].SearchURL, "https://index.docker.io"},
		{"upstreams[0].timeout", c.Upstreams[0].Timeout, 30 * time.Second},
		{"upstreams[0].retries", c.Upstreams[0].Retries, 3},
		{"changed", len(c.Changed()), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !cmp.Equal(tt.got, tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestYAML(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want Config
	}{
		{"empty file", "", Default()},
		{"comment only", "# nothing\n", Default()},
		{
			name: "scalars",
			yaml: "listen: 0.0.0.0:6000\ndata: /var/lib/breakwater\nlog: {level: debug, format: json}\ncache:\n  tag_max_age: 90s\n  negative_ttl: 1m\n",
			want: with(func(c *Config) {
				c.Listen = "0.0.0.0:6000"
				c.Data = "/var/lib/breakwater"
				c.Log = Log{Level: "debug", Format: "json"}
				c.Cache.TagMaxAge, c.Cache.NegativeTTL = 90*time.Second, time.Minute
			}),
		},
		{
			name: "partial section keeps other defaults",
			yaml: "log:\n  format: json\n",
			want: with(func(c *Config) { c.Log.Format = "json" }),
		},
		{
			name: "upstreams replace the default list and get defaults per entry",
			yaml: `
upstreams:
  - name: docker.io
    url: https://registry-1.docker.io
    default: true
    username: me
    password_file: /run/secrets/hub
  - name: ghcr.io
    url: https://ghcr.io
    timeout: 10s
    retries: 0
`,
			want: with(func(c *Config) {
				c.Upstreams[0].Username = "me"
				c.Upstreams[0].PasswordFile = "/run/secrets/hub"
				c.Upstreams = append(c.Upstreams, Upstream{
					Name: "ghcr.io", URL: "https://ghcr.io", Timeout: 10 * time.Second, Retries: 0,
				})
			}),
		},
		{
			name: "docker hub recognised by url",
			yaml: "upstreams:\n  - name: hub\n    url: https://registry-1.docker.io\n",
			// containerd still says ?ns=docker.io for it.
			want: with(func(c *Config) {
				c.Upstreams[0].Name = "hub"
				c.Upstreams[0].Aliases = append(c.Upstreams[0].Aliases, "docker.io")
			}),
		},
		{
			name: "docker hub defaults can be turned off",
			yaml: "upstreams:\n  - name: docker.io\n    url: http://127.0.0.1:5001\n    docker_hub: false\n    aliases: []\n    search_url: \"\"\n",
			want: with(func(c *Config) {
				c.Upstreams[0] = Upstream{
					Name: "docker.io", URL: "http://127.0.0.1:5001", Default: true,
					Timeout: 30 * time.Second, Retries: 3,
				}
			}),
		},
		{
			name: "a key without a value empties it",
			yaml: "upstreams:\n  - name: docker.io\n    url: https://registry-1.docker.io\n    aliases:\n    search_url:\n",
			want: with(func(c *Config) { c.Upstreams[0].Aliases, c.Upstreams[0].SearchURL = nil, "" }),
		},
		{
			name: "lone upstream is the default",
			yaml: "upstreams:\n  - name: quay.io\n    url: https://quay.io\n",
			want: with(func(c *Config) {
				c.Upstreams[0] = Upstream{Name: "quay.io", URL: "https://quay.io", Default: true, Timeout: 30 * time.Second, Retries: 3}
			}),
		},
		{
			name: "yaml anchors and aliases",
			yaml: "cache:\n  tag_max_age: &d 45s\n  negative_ttl: *d\n",
			want: with(func(c *Config) { c.Cache.TagMaxAge, c.Cache.NegativeTTL = 45*time.Second, 45*time.Second }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(writeFile(t, "c.yaml", tt.yaml), nil, Flags{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

func TestYAMLErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"unknown top-level key", "listn: :5000\n", "listn: unknown key (line 1)"},
		{"unknown nested key", "log:\n  formt: json\n", "log.formt: unknown key (line 2)"},
		{"unknown upstream key", "upstreams:\n  - name: a.io\n    url: https://a.io\n  - name: b.io\n    pasword: x\n", "upstreams[1].pasword: unknown key (line 5)"},
		{"bad duration", "cache:\n  tag_max_age: 5 minutes\n", `cache.tag_max_age: "5 minutes" is not a duration`},
		{"bare number is no duration", "cache:\n  negative_ttl: 30\n", `cache.negative_ttl: "30" is not a duration`},
		{"bad bool", "upstreams:\n  - name: a.io\n    url: https://a.io\n    default: yes please\n", `upstreams[0].default: "yes please" is not true or false`},
		{"bad int", "upstreams:\n  - name: a.io\n    url: https://a.io\n    retries: many\n", `upstreams[0].retries: "many" is not a whole number`},
		{"list where value expected", "listen: [a, b]\n", "listen: must be a single value"},
		{"value where list expected", "upstreams: docker.io\n", "upstreams: must be a list"},
		{"value where mapping expected", "log: debug\n", "log: must be a mapping"},
		{"key set twice", "listen: a:1\nlisten: b:2\n", "listen: set twice (line 2)"},
		{"not yaml", "listen: [\n", "parse yaml"},
		{"empty upstream list", "upstreams:\n", "upstreams: at least one upstream is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, "c.yaml", tt.yaml), nil, Flags{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil, Flags{})
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("got %v, want an error naming the file", err)
	}
}

const twoUpstreams = `
upstreams:
  - name: docker.io
    url: https://registry-1.docker.io
    default: true
    username: fileuser
    password_file: /run/secrets/hub
  - name: ghcr.io
    url: https://ghcr.io
`

func TestEnv(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		environ []string
		want    func(c *Config)
	}{
		{
			name:    "top-level scalars",
			environ: []string{"BREAKWATER_LISTEN=:7000", "BREAKWATER_DATA=/srv/bw", "BREAKWATER_LOG_LEVEL=debug", "BREAKWATER_LOG_FORMAT=json", "BREAKWATER_CACHE_TAG_MAX_AGE=1h", "BREAKWATER_CACHE_NEGATIVE_TTL=5s"},
			want: func(c *Config) {
				c.Listen, c.Data = ":7000", "/srv/bw"
				c.Log = Log{Level: "debug", Format: "json"}
				c.Cache.TagMaxAge, c.Cache.NegativeTTL = time.Hour, 5*time.Second
			},
		},
		{
			name:    "empty and foreign variables are ignored",
			environ: []string{"BREAKWATER_LISTEN=", "PATH=/bin", "LISTEN=:1", "BREAKWATER_SOMETHING_ELSE=1"},
			want:    func(c *Config) {},
		},
		{
			name:    "default upstream short forms",
			environ: []string{"BREAKWATER_UPSTREAM=http://127.0.0.1:5001", "BREAKWATER_UPSTREAM_USERNAME=bob", "BREAKWATER_UPSTREAM_PASSWORD=dckr_pat_x"},
			want: func(c *Config) {
				u := &c.Upstreams[0]
				u.URL, u.Username, u.Password = "http://127.0.0.1:5001", "bob", "dckr_pat_x"
				u.SearchURL = "" // Docker Hub's index stays with Docker Hub
			},
		},
		{
			name:    "env password replaces a file's password_file",
			yaml:    twoUpstreams,
			environ: []string{"BREAKWATER_UPSTREAM_PASSWORD=tok"},
			want: func(c *Config) {
				c.Upstreams[0].Username, c.Upstreams[0].Password = "fileuser", "tok"
				c.Upstreams = append(c.Upstreams, Upstream{Name: "ghcr.io", URL: "https://ghcr.io", Timeout: 30 * time.Second, Retries: 3})
			},
		},
		{
			name:    "named upstreams",
			yaml:    twoUpstreams,
			environ: []string{"BREAKWATER_UPSTREAMS_GHCR_IO_USERNAME=octo", "BREAKWATER_UPSTREAMS_GHCR_IO_PASSWORD_FILE=/run/gh", "BREAKWATER_UPSTREAMS_GHCR_IO_TIMEOUT=2m", "BREAKWATER_UPSTREAMS_GHCR_IO_RETRIES=1", "BREAKWATER_UPSTREAMS_DOCKER_IO_DOCKER_HUB=false", "BREAKWATER_UPSTREAMS_GHCR_IO_SEARCH_URL=https://search.example"},
			want: func(c *Config) {
				c.Upstreams[0].Username, c.Upstreams[0].PasswordFile = "fileuser", "/run/secrets/hub"
				c.Upstreams[0].DockerHub = false
				c.Upstreams = append(c.Upstreams, Upstream{
					Name: "ghcr.io", URL: "https://ghcr.io", Username: "octo", PasswordFile: "/run/gh",
					SearchURL: "https://search.example", Timeout: 2 * time.Minute, Retries: 1,
				})
			},
		},
		{
			name:    "short form wins over the named form",
			environ: []string{"BREAKWATER_UPSTREAMS_DOCKER_IO_URL=https://a.example", "BREAKWATER_UPSTREAM=https://b.example"},
			want:    func(c *Config) { c.Upstreams[0].URL, c.Upstreams[0].SearchURL = "https://b.example", "" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = writeFile(t, "c.yaml", tt.yaml)
			}
			got, err := Load(path, tt.environ, Flags{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(got, with(tt.want)); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    string
	}{
		{"bad duration", []string{"BREAKWATER_CACHE_TAG_MAX_AGE=soon"}, `BREAKWATER_CACHE_TAG_MAX_AGE (cache.tag_max_age): "soon" is not a duration`},
		{"unknown upstream", []string{"BREAKWATER_UPSTREAMS_QUAY_IO_URL=https://quay.io"}, "BREAKWATER_UPSTREAMS_QUAY_IO_URL: names no configured upstream"},
		{"unknown upstream key", []string{"BREAKWATER_UPSTREAMS_DOCKER_IO_NAME=x"}, "BREAKWATER_UPSTREAMS_DOCKER_IO_NAME: names no configured upstream"},
		{"no short form for key", []string{"BREAKWATER_UPSTREAM_RETRIES=0"}, "BREAKWATER_UPSTREAM_RETRIES: not a setting"},
		{"bad upstream int", []string{"BREAKWATER_UPSTREAMS_DOCKER_IO_RETRIES=x"}, `BREAKWATER_UPSTREAMS_DOCKER_IO_RETRIES: "x" is not a whole number`},
		{"invalid value reaches Validate", []string{"BREAKWATER_UPSTREAM=ftp://x"}, "upstreams[0].url: must be an absolute http or https URL"},
		{"both password forms in one layer", []string{"BREAKWATER_UPSTREAM_USERNAME=u", "BREAKWATER_UPSTREAM_PASSWORD=p", "BREAKWATER_UPSTREAM_PASSWORD_FILE=/f"}, "upstreams[0]: password and password_file must not both be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", tt.environ, Flags{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "c.yaml", "listen: 127.0.0.1:1111\ndata: /from/file\nlog:\n  level: warn\nupstreams:\n  - name: docker.io\n    url: https://file.example\n")
	env := []string{"BREAKWATER_DATA=/from/env", "BREAKWATER_LOG_LEVEL=error", "BREAKWATER_UPSTREAM=https://env.example"}

	tests := []struct {
		name  string
		path  string
		env   []string
		flags Flags
		want  [4]string // listen, data, log.level, default upstream url
	}{
		{"defaults", "", nil, Flags{}, [4]string{"127.0.0.1:5000", "./data", "info", "https://registry-1.docker.io"}},
		{"file over defaults", file, nil, Flags{}, [4]string{"127.0.0.1:1111", "/from/file", "warn", "https://file.example"}},
		{"env over file", file, env, Flags{}, [4]string{"127.0.0.1:1111", "/from/env", "error", "https://env.example"}},
		{"flags over env", file, env, Flags{Listen: ":2222", Data: "/from/flag", Upstream: "http://flag.example"}, [4]string{":2222", "/from/flag", "error", "http://flag.example"}},
		{"flags over defaults", "", nil, Flags{Data: "/d"}, [4]string{"127.0.0.1:5000", "/d", "info", "https://registry-1.docker.io"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.path, tt.env, tt.flags)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := [4]string{c.Listen, c.Data, c.Log.Level, c.DefaultUpstream().URL}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSearchFollowsUpstream checks that Docker Hub's search index is
// dropped when the default upstream is moved elsewhere by a flag or the
// environment, and kept when it is named or the move stays on Docker Hub.
func TestSearchFollowsUpstream(t *testing.T) {
	hub := Default().Upstreams[0].SearchURL
	tests := []struct {
		name  string
		env   []string
		flags Flags
		want  string
	}{
		{"default", nil, Flags{}, hub},
		{"flag to a local registry", nil, Flags{Upstream: "http://127.0.0.1:5001"}, ""},
		{"env to a mirror", []string{"BREAKWATER_UPSTREAM=https://mirror.example"}, Flags{}, ""},
		{"env to a mirror with its search", []string{"BREAKWATER_UPSTREAM=https://mirror.example", "BREAKWATER_UPSTREAMS_DOCKER_IO_SEARCH_URL=https://search.example"}, Flags{}, "https://search.example"},
		{"flag to Docker Hub itself", nil, Flags{Upstream: "https://registry-1.docker.io/"}, hub},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load("", tt.env, tt.flags)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := c.DefaultUpstream().SearchURL; got != tt.want {
				t.Errorf("search_url = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ghcr := Upstream{Name: "ghcr.io", URL: "https://ghcr.io", Timeout: time.Second}
	tests := []struct {
		name string
		mut  func(c *Config)
		want string
	}{
		{"listen without port", func(c *Config) { c.Listen = "localhost" }, "listen: must be host:port"},
		{"listen bad port", func(c *Config) { c.Listen = "localhost:http" }, "listen: port must be a number"},
		{"empty data", func(c *Config) { c.Data = "" }, "data: must not be empty"},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, `log.level: must be debug, info, warn or error, not "verbose"`},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, `log.format: must be text or json, not "xml"`},
		{"tag max age zero", func(c *Config) { c.Cache.TagMaxAge = 0 }, "cache.tag_max_age: must be positive"},
		{"negative ttl negative", func(c *Config) { c.Cache.NegativeTTL = -time.Second }, "cache.negative_ttl: must be positive"},
		{"no upstreams", func(c *Config) { c.Upstreams = nil }, "upstreams: at least one upstream is required"},
		{"no default", func(c *Config) { c.Upstreams[0].Default = false }, "upstreams: exactly one upstream must have default: true, found 0"},
		{"two defaults", func(c *Config) { g := ghcr; g.Default = true; c.Upstreams = append(c.Upstreams, g) }, "upstreams: exactly one upstream must have default: true, found 2"},
		{"empty name", func(c *Config) { c.Upstreams[0].Name = "" }, "upstreams[0].name: must not be empty"},
		{"upper-case name", func(c *Config) { c.Upstreams[0].Name = "Docker.io" }, `upstreams[0].name: "Docker.io" must be lower case and host-like`},
		{"name with slash", func(c *Config) { c.Upstreams[0].Name = "docker.io/library" }, "upstreams[0].name:"},
		{"name with port", func(c *Config) { c.Upstreams[0].Name = "localhost:5000" }, "upstreams[0].name:"},
		{"name with dots only", func(c *Config) { c.Upstreams[0].Name = ".." }, "upstreams[0].name:"},
		{"duplicate name", func(c *Config) { g := ghcr; g.Name = "docker.io"; c.Upstreams = append(c.Upstreams, g) }, `upstreams[1].name: "docker.io" is already used by upstreams[0].name`},
		{"alias clashes with name", func(c *Config) {
			g := ghcr
			g.Aliases = []string{"index.docker.io"}
			c.Upstreams = append(c.Upstreams, g)
		}, `upstreams[1].aliases[0]: "index.docker.io" is already used by upstreams[0].aliases[1]`},
		{"bad alias", func(c *Config) { c.Upstreams[0].Aliases = []string{"Hub"} }, "upstreams[0].aliases[0]:"},
		{"url not absolute", func(c *Config) { g := ghcr; g.URL = "ghcr.io"; c.Upstreams = append(c.Upstreams, g) }, "upstreams[1].url: must be an absolute http or https URL"},
		{"url wrong scheme", func(c *Config) { c.Upstreams[0].URL = "ftp://x" }, "upstreams[0].url: must be an absolute http or https URL"},
		{"url with user info", func(c *Config) { c.Upstreams[0].URL = "https://u:p@x" }, "upstreams[0].url: must have no query"},
		{"url with /v2", func(c *Config) { c.Upstreams[0].URL = "http://127.0.0.1:5601/v2/" }, `upstreams[0].url: must be the registry's base URL, without /v2, not "http://127.0.0.1:5601/v2/"`},
		{"revalidate timeout", func(c *Config) { c.Cache.RevalidateTimeout = 0 }, "cache.revalidate_timeout: must be positive"},
		{"unhealthy for", func(c *Config) { c.Cache.UnhealthyFor = -time.Second }, "cache.unhealthy_for: must be positive"},
		{"max blob size", func(c *Config) { c.Cache.MaxBlobSize = 0 }, "cache.max_blob_size: must be a positive number of bytes"},
		{"search url", func(c *Config) { c.Upstreams[0].SearchURL = "index.docker.io" }, "upstreams[0].search_url: must be an absolute http or https URL"},
		{"both passwords", func(c *Config) {
			c.Upstreams[0].Username, c.Upstreams[0].Password, c.Upstreams[0].PasswordFile = "u", "p", "/f"
		}, "upstreams[0]: password and password_file must not both be set"},
		{"password without username", func(c *Config) { c.Upstreams[0].Password = "p" }, "upstreams[0].username: must be set when a password is"},
		{"timeout", func(c *Config) { c.Upstreams[0].Timeout = 0 }, "upstreams[0].timeout: must be positive"},
		{"retries", func(c *Config) { c.Upstreams[0].Retries = -1 }, "upstreams[0].retries: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := with(tt.mut).Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}

	t.Run("every problem is reported", func(t *testing.T) {
		err := with(func(c *Config) { c.Listen = ""; c.Log.Format = "xml" }).Validate()
		for _, want := range []string{"listen:", "log.format:"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("got %v, want it to contain %q", err, want)
			}
		}
	})
}

func TestSecretsMasked(t *testing.T) {
	const secret = "dckr_pat_s3cr3t"
	c := with(func(c *Config) {
		c.Upstreams[0].Username = "bob"
		c.Upstreams[0].Password = secret
		c.Upstreams = append(c.Upstreams, Upstream{Name: "ghcr.io", URL: "https://ghcr.io", Username: "o", PasswordFile: "/run/gh", Timeout: time.Second})
	})

	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var changed strings.Builder
	for _, s := range c.Changed() {
		changed.WriteString(s.Key + "=" + s.Value + "\n")
	}
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"YAML", string(y), []string{"password: " + Mask, "password_file: /run/gh", "username: bob"}},
		{"Changed", changed.String(), []string{"upstreams[0].password=" + Mask, "upstreams[1].name=ghcr.io"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.text, secret) {
				t.Errorf("output contains the password:\n%s", tt.text)
			}
			for _, w := range tt.want {
				if !strings.Contains(tt.text, w) {
					t.Errorf("output lacks %q:\n%s", w, tt.text)
				}
			}
		})
	}

	t.Run("original untouched", func(t *testing.T) {
		r := c.Redacted()
		r.Upstreams[0].Aliases[0] = "changed"
		if c.Upstreams[0].Password != secret || c.Upstreams[0].Aliases[0] == "changed" {
			t.Errorf("Redacted changed the original: %+v", c.Upstreams[0])
		}
	})
	t.Run("empty password stays empty", func(t *testing.T) {
		if got := Default().Redacted().Upstreams[0].Password; got != "" {
			t.Errorf("got %q, want empty", got)
		}
	})
}

func TestPrintedConfigLoadsBack(t *testing.T) {
	c := with(func(c *Config) {
		c.Cache.TagMaxAge = 90 * time.Second
		c.Upstreams = append(c.Upstreams, Upstream{Name: "ghcr.io", URL: "https://ghcr.io", Aliases: []string{"ghcr.example:443"}, Timeout: time.Second, Retries: 0})
		c.Policies = append(c.Policies, policy.Policy{
			Name: "pinned",
			Conditions: policy.Conditions{
				MinScore: 7.5,
				Packages: []policy.Package{{Ecosystem: "npm", Name: "left-pad"}},
				IDs:      []string{"CVE-2024-3094"},
			},
			Action: policy.ActionWarn,
		})
		c.Firewall.Repositories = []policy.RepositoryRule{{Match: "ghcr.io/**", Mode: policy.ModeAudit}}
		c.VulnDB.Feeds = []Feed{{URL: "/srv/feed.zip"}, {Name: "osv-npm", URL: "https://mirror.example/npm.zip"}}
	})
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(writeFile(t, "c.yaml", string(y)), nil, Flags{})
	if err != nil {
		t.Fatalf("Load of printed config: %v\n%s", err, y)
	}
	if diff := cmp.Diff(got, c); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

func TestChanged(t *testing.T) {
	c := with(func(c *Config) {
		c.Listen = ":1"
		c.Upstreams[0].URL = "http://127.0.0.1:5001"
	})
	want := []Setting{{"listen", ":1"}, {"upstreams[0].url", "http://127.0.0.1:5001"}}
	if diff := cmp.Diff(c.Changed(), want); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}

	t.Run("policies", func(t *testing.T) {
		c := with(func(c *Config) {
			c.Policies = append(c.Policies, policy.Policy{Name: "old", Conditions: policy.Conditions{OlderThanDays: 365}, Action: policy.ActionWarn})
			c.Policies[1].Conditions.MinScore = 9
		})
		want := []Setting{
			{"policies[1].conditions.min_score", "9"},
			{"policies[3].name", "old"},
			{"policies[3].conditions.older_than_days", "365"},
			{"policies[3].action", "warn"},
		}
		if diff := cmp.Diff(c.Changed(), want); diff != "" {
			t.Errorf("(-got +want):\n%s", diff)
		}
	})
}

func TestCredentials(t *testing.T) {
	file := writeFile(t, "pw", "tok-from-file\n")
	tests := []struct {
		name    string
		u       Upstream
		want    string
		wantErr string
	}{
		{"inline", Upstream{Username: "u", Password: "inline"}, "inline", ""},
		{"file, newline trimmed", Upstream{Username: "u", PasswordFile: file}, "tok-from-file", ""},
		{"anonymous", Upstream{}, "", ""},
		{"missing file", Upstream{Name: "docker.io", Username: "u", PasswordFile: file + ".missing"}, "", "read password_file of upstream docker.io"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := tt.u.Credentials()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
