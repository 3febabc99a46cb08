package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"breakwater/internal/auth"
	"breakwater/internal/config"
	"breakwater/internal/server"
)

// runIn is run with stdin, for --password-stdin.
func runIn(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd(&out, &errOut, nil)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// openAuth opens the access control of data beside the commands, as a
// running server would hold it.
func openAuth(t *testing.T, data string) *auth.Service {
	t.Helper()
	c, err := config.Load("", nil, config.Flags{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	a, err := server.OpenAdmin(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	as, _, err := a.Accounts()
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// lastLine is the last line of out, which must end in a newline.
func lastLine(t *testing.T, out string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !strings.HasSuffix(out, "\n") || lines[len(lines)-1] == "" {
		t.Fatalf("output %q does not end in a line", out)
	}
	return lines[len(lines)-1]
}

// auditOf returns "actor action details" of every audit entry of action.
func auditOf(t *testing.T, data, action string) []string {
	t.Helper()
	out, _, err := run(t, nil, "audit", "--data", data, "--action", action, "--format", "json")
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	var entries []auditEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Actor+" "+e.Action+" "+e.Details)
	}
	return got
}

func listUsers(t *testing.T, data string) []userJSON {
	t.Helper()
	out, _, err := run(t, nil, "user", "list", "--data", data, "--format", "json")
	if err != nil {
		t.Fatalf("user list: %v", err)
	}
	var users []userJSON
	if err := json.Unmarshal([]byte(out), &users); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	return users
}

func TestUserCommands(t *testing.T) {
	data := t.TempDir()
	ctx := context.Background()
	as := openAuth(t, data)
	authOK := func(user, pw string, want auth.Role) {
		t.Helper()
		p, err := as.Authenticate(ctx, user, pw)
		if err != nil || p.User != user || p.Role != want {
			t.Errorf("Authenticate(%s) = %+v, %v; want %s as %s", user, p, err, user, want)
		}
	}
	authFails := func(user, pw string) {
		t.Helper()
		if p, err := as.Authenticate(ctx, user, pw); !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("Authenticate(%s) = %+v, %v; want bad credentials", user, p, err)
		}
	}

	if out, _, err := run(t, nil, "user", "list", "--data", data); err != nil || !strings.Contains(out, "no users") {
		t.Errorf("user list of a new data directory: %v\n%s", err, out)
	}

	// A password from stdin, with the newline echo leaves.
	const alicePW = "correct horse battery"
	out, _, err := runIn(t, alicePW+"\n", "user", "add", "alice", "--role", "reader", "--password-stdin", "--data", data)
	if err != nil || out != "added user alice (reader)\n" {
		t.Fatalf("user add alice: %v\n%s", err, out)
	}
	authOK("alice", alicePW, auth.RoleReader)

	// A generated password: alone on stdout, said once.
	out, errOut, err := run(t, nil, "user", "add", "bob", "--role", "admin", "--data", data)
	if err != nil {
		t.Fatalf("user add bob: %v", err)
	}
	bobPW := lastLine(t, out)
	if strings.Count(out, "\n") != 1 || len(bobPW) < auth.MinPasswordLength || !strings.Contains(errOut, "added user bob (admin)") {
		t.Fatalf("user add bob: stdout %q, stderr %q; want only the password on stdout", out, errOut)
	}
	authOK("bob", bobPW, auth.RoleAdmin)

	// A password typed in need not change; one shown on the terminal
	// must, at the first dashboard login.
	users := listUsers(t, data)
	var names []string
	for _, u := range users {
		names = append(names, u.Name+"/"+string(u.Role))
		if u.CreatedAt.IsZero() || u.MustChangePassword != (u.Name == "bob") {
			t.Errorf("user %+v: want a creation time and a forced change for bob only", u)
		}
	}
	if !slices.Equal(names, []string{"alice/reader", "bob/admin"}) {
		t.Errorf("users = %v; want alice/reader, bob/admin", names)
	}
	out, _, err = run(t, nil, "user", "list", "--data", data)
	if err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "admin") || strings.Contains(out, bobPW) {
		t.Errorf("user list: %v\n%s", err, out)
	}

	// passwd from stdin, then generated: each time only the new one works.
	const newPW = "another long passphrase"
	out, _, err = runIn(t, newPW+"\r\n", "user", "passwd", "alice", "--password-stdin", "--data", data)
	if err != nil || !strings.Contains(out, "alice") {
		t.Fatalf("user passwd alice: %v\n%s", err, out)
	}
	authFails("alice", alicePW)
	authOK("alice", newPW, auth.RoleReader)
	out, errOut, err = run(t, nil, "user", "passwd", "alice", "--data", data)
	if err != nil {
		t.Fatalf("user passwd alice: %v", err)
	}
	genPW := lastLine(t, out)
	if strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "shown only this once") {
		t.Errorf("user passwd: stdout %q, stderr %q; want only the password on stdout", out, errOut)
	}
	authFails("alice", newPW)
	authOK("alice", genPW, auth.RoleReader)
	for _, u := range listUsers(t, data) {
		if u.Name == "alice" && !u.MustChangePassword {
			t.Errorf("alice after a generated password: %+v, want it to be changed at the next dashboard login", u)
		}
	}

	// role: alice becomes an admin and a reader again; bob, then the
	// last admin, stays one.
	out, _, err = run(t, nil, "user", "role", "alice", "--role", "admin", "--data", data)
	if err != nil || out != "alice is now admin\n" {
		t.Fatalf("user role alice admin: %v\n%s", err, out)
	}
	authOK("alice", genPW, auth.RoleAdmin)
	if _, _, err := run(t, nil, "user", "role", "alice", "--role", "reader", "--data", data); err != nil {
		t.Fatal(err)
	}
	authOK("alice", genPW, auth.RoleReader)
	if _, _, err := run(t, nil, "user", "role", "bob", "--role", "reader", "--data", data); err == nil || !strings.Contains(err.Error(), "last admin") {
		t.Errorf("user role of the last admin to reader: %v; want it refused as the last admin", err)
	}
	if _, _, err := run(t, nil, "user", "role", "alice", "--role", "root", "--data", data); err == nil || !strings.Contains(err.Error(), "--role") {
		t.Errorf("user role root: %v; want an error naming --role", err)
	}
	authOK("bob", bobPW, auth.RoleAdmin)

	out, _, err = run(t, nil, "user", "delete", "alice", "--data", data)
	if err != nil || !strings.Contains(out, "deleted user alice") {
		t.Fatalf("user delete alice: %v\n%s", err, out)
	}
	authFails("alice", genPW)
	if users := listUsers(t, data); len(users) != 1 || users[0].Name != "bob" {
		t.Errorf("users after delete = %+v; want bob alone", users)
	}

	// Each change is in the audit log under the local user.
	for action, want := range map[string][]string{
		"user-added":       {"user=alice role=reader", "user=bob role=admin"},
		"password-changed": {"user=alice", "user=alice"},
		"user-deleted":     {"user=alice"},
		"role-changed":     {"user=alice role=admin", "user=alice role=reader"},
	} {
		got := auditOf(t, data, action)
		var wantAll []string
		for _, d := range want {
			wantAll = append(wantAll, actor()+" "+action+" "+d)
		}
		if !slices.Equal(got, wantAll) {
			t.Errorf("audit %s = %q; want %q", action, got, wantAll)
		}
	}
	if !strings.HasPrefix(actor(), "cli") {
		t.Errorf("actor() = %q; want it to start with cli", actor())
	}
}

func TestUserErrors(t *testing.T) {
	data := t.TempDir()
	if _, _, err := runIn(t, "the only admin pw", "user", "add", "root", "--role", "admin", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runIn(t, "a reader password", "user", "add", "carol", "--role", "reader", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		stdin string
		args  []string
		want  string
	}{
		{"long enough password", []string{"user", "add", "dave", "--role", "root", "--password-stdin"}, `--role: role must be reader or admin, not "root"`},
		{"long enough password", []string{"user", "add", "dave", "--password-stdin"}, `"role" not set`},
		{"long enough password", []string{"user", "add", "Dave", "--role", "reader", "--password-stdin"}, `user name must be 1 to 64 characters of a-z`},
		{"", []string{"user", "add", "dave", "--role", "reader", "--password-stdin"}, "--password-stdin: standard input holds no password"},
		{"\n", []string{"user", "add", "dave", "--role", "reader", "--password-stdin"}, "--password-stdin: standard input holds no password"},
		{"short", []string{"user", "add", "dave", "--role", "reader", "--password-stdin"}, "--password-stdin: password must be at least 12 characters"},
		{strings.Repeat("x", 73), []string{"user", "add", "dave", "--role", "reader", "--password-stdin"}, "at most 72 bytes"},
		{"first line is long\nsecond\n", []string{"user", "add", "dave", "--role", "reader", "--password-stdin"}, "on one line"},
		{"long enough password", []string{"user", "add", "carol", "--role", "reader", "--password-stdin"}, `user "carol" already exists`},
		{"long enough password", []string{"user", "passwd", "nobody", "--password-stdin"}, `no user "nobody"`},
		{"short", []string{"user", "passwd", "carol", "--password-stdin"}, "at least 12 characters"},
		{"", []string{"user", "delete", "nobody"}, `no user "nobody"`},
		{"", []string{"user", "delete", "root"}, "root is the last admin and cannot be deleted: add another admin first"},
		{"", []string{"user", "list", "--format", "yaml"}, `--format: must be table or json, not "yaml"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := runIn(t, tt.stdin, append(tt.args, "--data", data)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error containing %q", err, tt.want)
			}
		})
	}

	// Nothing was changed by the refused commands.
	var got []string
	for _, u := range listUsers(t, data) {
		got = append(got, u.Name+"/"+string(u.Role))
	}
	if !slices.Equal(got, []string{"carol/reader", "root/admin"}) {
		t.Errorf("users = %v; want carol/reader, root/admin", got)
	}
	p, err := openAuth(t, data).Authenticate(context.Background(), "carol", "a reader password")
	if err != nil || p.User != "carol" {
		t.Errorf("carol's password changed: %v", err)
	}

	// With a second admin the first may go.
	if _, _, err := runIn(t, "second admin pw!", "user", "add", "erin", "--role", "admin", "--password-stdin", "--data", data); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, nil, "user", "delete", "root", "--data", data); err != nil {
		t.Errorf("delete root with erin an admin too: %v", err)
	}
}
