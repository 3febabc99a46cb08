package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"breakwater/internal/auth"
)

func listTokensJSON(t *testing.T, data string, args ...string) []tokenJSON {
	t.Helper()
	out, _, err := run(t, nil, append([]string{"token", "list", "--data", data, "--format", "json"}, args...)...)
	if err != nil {
		t.Fatalf("token list: %v", err)
	}
	var ts []tokenJSON
	if err := json.Unmarshal([]byte(out), &ts); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	return ts
}

func TestTokenCommands(t *testing.T) {
	data := t.TempDir()
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		if _, _, err := runIn(t, u+" has a long password", "user", "add", u, "--role", "reader", "--password-stdin", "--data", data); err != nil {
			t.Fatal(err)
		}
	}
	as := openAuth(t, data)

	start := time.Now()
	out, errOut, err := run(t, nil, "token", "create", "--user", "alice", "--name", "ci", "--expires", "720h", "--data", data)
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	secret := lastLine(t, out)
	if !auth.LooksLikeToken(secret) || strings.Count(out, "\n") != 1 {
		t.Fatalf("token create: stdout %q; want the secret alone", out)
	}
	if !strings.Contains(errOut, "created token ci of alice") || !strings.Contains(errOut, "expires ") || strings.Contains(errOut, secret) {
		t.Errorf("token create: stderr %q; want what was made, without the secret", errOut)
	}
	p, err := as.Authenticate(ctx, "alice", secret)
	if err != nil || p.User != "alice" || p.Via != auth.ViaToken || p.Role != auth.RoleReader {
		t.Fatalf("Authenticate(alice, secret) = %+v, %v; want alice by token", p, err)
	}
	// A token belongs to its user: bob cannot use alice's.
	if _, err := as.Authenticate(ctx, "bob", secret); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("bob with alice's token: %v; want bad credentials", err)
	}

	out, _, err = run(t, nil, "token", "create", "--user", "bob", "--name", "deploy", "--expires", "2099-01-31", "--data", data)
	if err != nil {
		t.Fatalf("token create bob: %v", err)
	}
	bobSecret := lastLine(t, out)

	// list never shows a secret, nor its random part.
	all := listTokensJSON(t, data)
	if len(all) != 2 || all[0].User != "alice" || all[0].Name != "ci" || all[1].User != "bob" || all[1].Name != "deploy" {
		t.Fatalf("token list = %+v; want alice/ci and bob/deploy", all)
	}
	if exp := all[0].ExpiresAt; exp.Before(start.Add(720*time.Hour-time.Second)) || exp.After(time.Now().Add(720*time.Hour)) || all[0].Expired {
		t.Errorf("ci expires %v; want 720h from creation", exp)
	}
	if want := time.Date(2099, 1, 31, 0, 0, 0, 0, time.UTC); all[1].ExpiresAt.Sub(want).Abs() > time.Second {
		t.Errorf("deploy expires %v; want %v", all[1].ExpiresAt, want)
	}
	if !strings.Contains(secret, all[0].ID) {
		t.Errorf("token id %q is not in its secret", all[0].ID)
	}
	if ts := listTokensJSON(t, data, "--user", "bob"); len(ts) != 1 || ts[0].Name != "deploy" {
		t.Errorf("token list --user bob = %+v; want deploy alone", ts)
	}
	for _, format := range []string{"table", "json"} {
		out, _, err := run(t, nil, "token", "list", "--data", data, "--format", format)
		if err != nil || !strings.Contains(out, "deploy") {
			t.Errorf("token list --format %s: %v\n%s", format, err, out)
		}
		for _, s := range []string{secret, bobSecret} {
			random := s[strings.LastIndex(s, "_")+1:]
			if strings.Contains(out, random) {
				t.Errorf("token list --format %s shows a secret:\n%s", format, out)
			}
		}
	}

	// Revoking is in force at once, for a service opened before it.
	out, _, err = run(t, nil, "token", "revoke", "--user", "alice", "ci", "--data", data)
	if err != nil || !strings.Contains(out, "revoked token ci of alice") {
		t.Fatalf("token revoke: %v\n%s", err, out)
	}
	if _, err := as.Authenticate(ctx, "alice", secret); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("revoked token: %v; want bad credentials", err)
	}
	if _, err := as.Authenticate(ctx, "bob", bobSecret); err != nil {
		t.Errorf("bob's token after revoking alice's: %v", err)
	}
	if ts := listTokensJSON(t, data, "--user", "alice"); len(ts) != 0 {
		t.Errorf("alice's tokens after revoke = %+v; want none", ts)
	}

	// Deleting a user ends its tokens too.
	if _, _, err := run(t, nil, "user", "delete", "bob", "--data", data); err != nil {
		t.Fatal(err)
	}
	if _, err := as.Authenticate(ctx, "bob", bobSecret); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("token of a deleted user: %v; want bad credentials", err)
	}

	for action, want := range map[string][]string{
		"token-created": {"user=alice token=ci", "user=bob token=deploy"},
		"token-revoked": {"user=alice token=ci"},
	} {
		got := auditOf(t, data, action)
		if len(got) != len(want) {
			t.Errorf("audit %s = %q; want %q", action, got, want)
			continue
		}
		for i := range want {
			if w := actor() + " " + action + " " + want[i]; got[i] != w {
				t.Errorf("audit %s[%d] = %q; want %q", action, i, got[i], w)
			}
		}
	}
}

func TestTokenErrors(t *testing.T) {
	data := t.TempDir()
	if _, _, err := runIn(t, "alice has a long password", "user", "add", "alice", "--role", "reader", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, nil, "token", "create", "--user", "alice", "--name", "ci", "--data", data); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"token", "create", "--user", "alice", "--name", "ci"}, `user alice already has a token named "ci"`},
		{[]string{"token", "create", "--user", "nobody", "--name", "ci"}, `no user "nobody"`},
		{[]string{"token", "create", "--user", "alice", "--name", "CI!"}, `--name: token name must be 1 to 64 characters`},
		{[]string{"token", "create", "--user", "alice"}, `"name" not set`},
		{[]string{"token", "create", "--name", "x"}, `"user" not set`},
		{[]string{"token", "create", "--user", "alice", "--name", "x", "--expires", "2020-01-31"}, `--expires: 2020-01-31 is in the past`},
		{[]string{"token", "create", "--user", "alice", "--name", "x", "--expires", "soon"}, `--expires: "soon" is not a duration`},
		{[]string{"token", "list", "--user", "nobody"}, `no user "nobody"`},
		{[]string{"token", "list", "--format", "xml"}, `--format: must be table or json`},
		{[]string{"token", "revoke", "--user", "alice", "nope"}, `user alice has no token named "nope"`},
		{[]string{"token", "revoke", "--user", "nobody", "ci"}, `no user "nobody"`},
		{[]string{"token", "revoke", "ci"}, `"user" not set`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, _, err := run(t, nil, append(tt.args, "--data", data)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error containing %q", err, tt.want)
			}
			if strings.Contains(out, auth.TokenPrefix) {
				t.Errorf("a refused command printed a secret: %q", out)
			}
		})
	}
	if ts := listTokensJSON(t, data); len(ts) != 1 || ts[0].Name != "ci" {
		t.Errorf("tokens = %+v; want ci alone", ts)
	}
}

// get asks the running server for path with an Authorization header
// (none when empty) and returns the status and the challenge.
func get(t *testing.T, addr, path, authz string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

func basic(user, secret string) string {
	r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	r.SetBasicAuth(user, secret)
	return r.Header.Get("Authorization")
}

// bearer gets a registry token from the running server's token service
// with user and secret, as docker login does.
func bearer(t *testing.T, addr, user, secret string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+auth.TokenPath+"?service="+addr+"&scope=repository:library/app:pull", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, secret)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.Token == "" {
		t.Fatalf("token service: %d, %v", resp.StatusCode, err)
	}
	return "Bearer " + body.Token
}

// TestAccountsOnRunningServer runs the user and token commands on the
// data directory of a running serve that refuses anonymous pulls: the
// first admin's password file, resetting it, and a token that works at
// once and stops at once.
func TestAccountsOnRunningServer(t *testing.T) {
	up := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(up.Close)
	data := t.TempDir()
	srv := startServe(t, up.URL, []string{
		"BREAKWATER_AUTH_ANONYMOUS_PULL=false",
		"BREAKWATER_VULNDB_REFRESH=0s", "BREAKWATER_VULNDB_LOAD_AT_START=false",
	}, "--data", data)

	// The first admin's password is in a file only its owner reads, and
	// the log says where.
	pwFile := filepath.Join(data, auth.PasswordFile)
	fi, err := os.Stat(pwFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v; want mode 0600", pwFile, fi, err)
	}
	if !strings.Contains(srv.log(), pwFile) {
		t.Errorf("the log does not name %s:\n%s", pwFile, srv.log())
	}
	b, err := os.ReadFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	firstPW := strings.TrimSpace(string(b))
	users := listUsers(t, data)
	if len(users) != 1 || users[0].Name != "admin" || users[0].Role != auth.RoleAdmin || !users[0].MustChangePassword {
		t.Fatalf("users = %+v; want admin, who must change the password", users)
	}

	code, challenge := get(t, srv.addr, "/v2/", "")
	if want := `Bearer realm="http://` + srv.addr + `/auth/token",service="` + srv.addr + `"`; code != http.StatusUnauthorized || challenge != want {
		t.Errorf("anonymous /v2/: %d %q; want 401 %q", code, challenge, want)
	}
	if code, _ := get(t, srv.addr, "/v2/", basic("admin", firstPW)); code != http.StatusOK {
		t.Errorf("/v2/ with the first password: %d; want 200", code)
	}

	// The operator resets it; the old one stops working at once.
	const newPW = "the operator's new password"
	if _, _, err := runIn(t, newPW+"\n", "user", "passwd", "admin", "--password-stdin", "--data", data); err != nil {
		t.Fatalf("user passwd admin: %v", err)
	}
	if code, _ := get(t, srv.addr, "/v2/", basic("admin", firstPW)); code != http.StatusUnauthorized {
		t.Errorf("/v2/ with the old password: %d; want 401", code)
	}
	if code, _ := get(t, srv.addr, "/v2/", basic("admin", newPW)); code != http.StatusOK {
		t.Errorf("/v2/ with the new password: %d; want 200", code)
	}
	if users := listUsers(t, data); users[0].MustChangePassword {
		t.Errorf("admin must still change the password after user passwd")
	}

	// A reader with a token: basic auth and docker login's bearer token
	// both work, and both stop when the token is revoked.
	if _, _, err := run(t, nil, "user", "add", "ci", "--role", "reader", "--data", data); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, nil, "token", "create", "--user", "ci", "--name", "pipeline", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	secret := lastLine(t, out)
	if code, _ := get(t, srv.addr, "/v2/", basic("ci", secret)); code != http.StatusOK {
		t.Errorf("/v2/ with the token: %d; want 200", code)
	}
	tok := bearer(t, srv.addr, "ci", secret)
	if code, _ := get(t, srv.addr, "/v2/", tok); code != http.StatusOK {
		t.Errorf("/v2/ with the registry token: %d; want 200", code)
	}
	if _, _, err := run(t, nil, "token", "revoke", "--user", "ci", "pipeline", "--data", data); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, srv.addr, "/v2/", basic("ci", secret)); code != http.StatusUnauthorized {
		t.Errorf("/v2/ with the revoked token: %d; want 401", code)
	}
	if code, challenge := get(t, srv.addr, "/v2/", tok); code != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
		t.Errorf("/v2/ with the registry token of a revoked token: %d %q; want 401 invalid_token", code, challenge)
	}
}
