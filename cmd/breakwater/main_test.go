package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// run executes the command line args with environ and returns what it
// wrote to stdout and stderr and its error.
func run(t *testing.T, environ []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd(&out, &errOut, environ)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "breakwater.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigCommand(t *testing.T) {
	const secret = "dckr_pat_v3ry-s3cret"
	secretFile := writeFile(t, "upstreams:\n  - name: docker.io\n    url: https://registry-1.docker.io\n    username: bob\n    password: "+secret+"\n")
	tests := []struct {
		name    string
		environ []string
		args    []string
		want    []string
	}{
		{
			name: "defaults",
			args: []string{"config"},
			want: []string{"listen: 127.0.0.1:5000", "data: ./data", "url: https://registry-1.docker.io", "tag_max_age: 5m0s"},
		},
		{
			name: "flags",
			args: []string{"config", "--listen", "127.0.0.1:0", "--data", "/srv/bw", "--upstream", "http://127.0.0.1:5001", "--firewall", "audit"},
			want: []string{"listen: 127.0.0.1:0", "data: /srv/bw", "url: http://127.0.0.1:5001", "mode: audit"},
		},
		{
			name:    "data from env without the flag",
			environ: []string{"BREAKWATER_DATA=/srv/env"},
			args:    []string{"config"},
			want:    []string{"data: /srv/env"},
		},
		{
			name:    "password from env masked",
			environ: []string{"BREAKWATER_UPSTREAM_USERNAME=bob", "BREAKWATER_UPSTREAM_PASSWORD=" + secret},
			args:    []string{"config"},
			want:    []string{"username: bob", "password: REDACTED"},
		},
		{
			name: "password from file masked",
			args: []string{"--config", secretFile, "config"},
			want: []string{"username: bob", "password: REDACTED"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := run(t, tt.environ, tt.args...)
			if err != nil {
				t.Fatalf("config: %v", err)
			}
			if strings.Contains(out, secret) {
				t.Errorf("output shows the password:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestInvalidConfig(t *testing.T) {
	badKey := writeFile(t, "cache:\n  tag_max_agee: 5m\n")
	badPolicy := writeFile(t, "policies:\n  - name: high\n    conditions: {min_score: 11}\n    action: fail\n")
	badURL := writeFile(t, "upstreams:\n  - name: docker.io\n    url: https://registry-1.docker.io\n  - name: ghcr.io\n    url: ghcr.io\n")
	both := []string{"config", "serve"}
	tests := []struct {
		name     string
		commands []string
		environ  []string
		args     []string
		want     string
	}{
		{"unknown key", both, nil, []string{"--config", badKey}, "cache.tag_max_agee: unknown key"},
		{"bad url", both, nil, []string{"--config", badURL}, "upstreams[1].url: must be an absolute http or https URL"},
		{"bad env", both, []string{"BREAKWATER_CACHE_TAG_MAX_AGE=0s"}, nil, "cache.tag_max_age: must be positive"},
		{"bad flag value", both, nil, []string{"--upstream", "registry-1.docker.io"}, "upstreams[0].url: must be an absolute http or https URL"},
		{"missing file", both, nil, []string{"--config", "/nonexistent/breakwater.yaml"}, "/nonexistent/breakwater.yaml"},
		{"bad policy", both, nil, []string{"--config", badPolicy}, "policies[0].conditions.min_score: must be between 0 and 10"},
		{"bad firewall mode", both, nil, []string{"--firewall", "block"}, `--firewall: must be off, audit or quarantine, not "block"`},
		{"bad firewall setting", both, []string{"BREAKWATER_FIREWALL_WAIT=0s"}, nil, "firewall.wait: must be positive"},
		// config checks what serve will read, so a missing file shows before start.
		{"missing password_file", both, []string{"BREAKWATER_UPSTREAM_USERNAME=u", "BREAKWATER_UPSTREAM_PASSWORD_FILE=/nonexistent/token"}, []string{"--listen", "127.0.0.1:0"}, "read password_file of upstream docker.io"},
	}
	for _, tt := range tests {
		for _, command := range tt.commands {
			t.Run(tt.name+"/"+command, func(t *testing.T) {
				args := append([]string{command, "--data", t.TempDir()}, tt.args...)
				_, _, err := run(t, tt.environ, args...)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("got error %v, want one containing %q", err, tt.want)
				}
			})
		}
	}
}

func TestNegativeLimit(t *testing.T) {
	for _, argv := range [][]string{{"audit", "--limit", "-1"}, {"quarantine", "list", "--limit=-5"}} {
		if _, _, err := run(t, nil, argv...); err == nil || err.Error() != "--limit must not be negative; 0 means all" {
			t.Errorf("%v: got error %v, want --limit refused", argv, err)
		}
	}
}

// TestEmptyData: --data "" is refused by every command that takes it; left
// out, --data means ./data, and an empty one must not silently mean the same.
func TestEmptyData(t *testing.T) {
	// What each command needs besides --data to get as far as running.
	args := map[string][]string{
		"breakwater serve":              nil,
		"breakwater config":             nil,
		"breakwater scan":               {"debian:12"},
		"breakwater audit":              nil,
		"breakwater quarantine list":    nil,
		"breakwater quarantine show":    {"q-1"},
		"breakwater quarantine release": {"q-1", "--reason", "x"},
		"breakwater quarantine delete":  {"q-1", "--reason", "x"},
		"breakwater quarantine note":    {"q-1", "text"},
		"breakwater vulndb import":      {"feed.zip"},
		"breakwater vulndb status":      nil,
		"breakwater user add":           {"bob", "--role", "reader"},
		"breakwater user list":          nil,
		"breakwater user passwd":        {"bob"},
		"breakwater user role":          {"bob", "--role", "admin"},
		"breakwater user delete":        {"bob"},
		"breakwater token create":       {"--user", "bob", "--name", "ci"},
		"breakwater token list":         nil,
		"breakwater token revoke":       {"--user", "bob", "ci"},
	}
	walkCommands(newRootCmd(io.Discard, io.Discard, nil), func(c *cobra.Command) {
		hasData := c.Flags().Lookup("data") != nil || c.InheritedFlags().Lookup("data") != nil
		if _, ok := args[c.CommandPath()]; c.Runnable() && hasData && !ok {
			t.Errorf("%s takes --data but is not tested here", c.CommandPath())
		}
	})
	for path, rest := range args {
		for _, data := range [][]string{{"--data", ""}, {"--data="}, {"--data", " "}} {
			argv := append(strings.Fields(path)[1:], rest...)
			argv = append(argv, data...)
			t.Run(strings.Join(argv, " "), func(t *testing.T) {
				_, _, err := run(t, nil, argv...)
				if err == nil || err.Error() != "--data must not be empty" {
					t.Errorf("got error %v, want --data must not be empty", err)
				}
			})
		}
	}
	// --listen and --upstream fall back to defaults just the same.
	for _, argv := range [][]string{
		{"serve", "--listen", ""}, {"config", "--listen="}, {"serve", "--upstream", " "}, {"scan", "debian:12", "--upstream", ""},
		{"serve", "--firewall", ""}, {"scan", "debian:12", "--firewall", " "},
	} {
		t.Run(strings.Join(argv, " "), func(t *testing.T) {
			flag := argv[len(argv)-2]
			if strings.HasSuffix(argv[len(argv)-1], "=") {
				flag = strings.TrimSuffix(argv[len(argv)-1], "=")
			}
			want := flag + " must not be empty"
			if _, _, err := run(t, nil, argv...); err == nil || err.Error() != want {
				t.Errorf("got error %v, want %s", err, want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		name    string
		ldflags string
		want    string
	}{
		{"from ldflags", "v1.2.3", "breakwater v1.2.3\n"},
		{"from build info", "", "breakwater "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := version
			version = tt.ldflags
			t.Cleanup(func() { version = old })

			var outs []string
			for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
				out, _, err := run(t, nil, args...)
				if err != nil || !strings.HasPrefix(out, tt.want) || len(out) <= len("breakwater \n") {
					t.Errorf("%v: got %q, %v; want it to start with %q and name a version", args, out, err, tt.want)
				}
				outs = append(outs, out)
			}
			if outs[1] != outs[0] || outs[2] != outs[0] {
				t.Errorf("version, --version and -v print %q; want the same", outs)
			}
		})
	}
}
