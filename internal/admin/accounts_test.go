package admin_test

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"breakwater/internal/admin"
	"breakwater/internal/auth"
	"breakwater/internal/config"
	"breakwater/internal/store/sqlite"
)

// TestAccountChangesLogOnce holds every account change to one log line
// that names the change, its actor and its user: auth logs them, so the
// facade must not log them again.
func TestAccountChangesLogOnce(t *testing.T) {
	ctx := t.Context()
	meta, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	a, err := auth.New(auth.Options{Store: meta, PasswordCost: bcrypt.MinCost, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	s := admin.New(admin.Options{Auth: a, Meta: meta, Records: meta, Config: config.Default(), Logger: log})
	p := auth.Principal{User: "alice", Role: auth.RoleAdmin, Via: auth.ViaPassword}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.AddUser(ctx, "alice", auth.RoleAdmin, "alice-password-12"))

	changes := []struct {
		do   func() error
		want string
	}{
		{func() error { return s.AddUser(ctx, p, "bob", auth.RoleReader, "bob-password-12") }, `msg="user added" user=bob role=reader actor=alice`},
		{func() error { return s.SetPassword(ctx, p, "bob", "bob-password-13") }, `msg="password changed" user=bob sessions=0 actor=alice`},
		{func() error { return s.SetRole(ctx, p, "bob", auth.RoleAdmin) }, `msg="role changed" user=bob role=admin actor=alice`},
		{func() error { _, _, err := s.CreateToken(ctx, p, "bob", "ci", 0); return err }, `msg="api token created" user=bob token=ci `},
		{func() error { return s.RevokeToken(ctx, p, "bob", "ci") }, `msg="api token revoked" user=bob token=ci `},
		{func() error { return s.DeleteUser(ctx, p, "bob") }, `msg="user deleted" user=bob actor=alice`},
	}
	for _, c := range changes {
		logs.Reset()
		must(c.do())
		lines := strings.Split(strings.TrimSuffix(logs.String(), "\n"), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], c.want) || !strings.Contains(lines[0], "actor=alice") {
			t.Errorf("logged:\n%s\nwant one line with %q and actor=alice", logs.String(), c.want)
		}
	}

	page, err := s.Audit(ctx, admin.AuditQuery{})
	must(err)
	if len(page.Items) != len(changes) {
		t.Errorf("audit log holds %d entries; want one per change, %d", len(page.Items), len(changes))
	}
}
