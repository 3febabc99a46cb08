package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// Names of the first admin and the file that holds its password.
const (
	BootstrapUser = "admin"
	PasswordFile  = "admin.password"
	// BootstrapActor is who creates the first admin, in the log and the
	// audit log: no user exists yet to name.
	BootstrapActor = "breakwater"
)

// bootstrapPasswordLen is the length of the generated password in base62
// characters (about 190 bits).
const bootstrapPasswordLen = 32

// Bootstrap creates the first admin when no user has the admin role:
// user admin, role admin, with a random password it must change at its
// first dashboard login. The password is written to
// <dataDir>/admin.password (mode 0600) and Bootstrap returns that path;
// with an admin present it returns "" and does nothing. The last admin
// cannot be removed, so "no admin" means only that none was made yet,
// even if readers were added with the CLI before the first serve.
//
// If the name admin is taken by a user who is not an admin, that user is
// left alone: Bootstrap logs an error saying how to make an admin and
// returns "", so that serve goes on serving.
//
// The file is the source of truth for the first password. It is created
// exclusively and never overwritten: if it already exists (an earlier
// start that stopped before the user was stored), its password is used
// again, provided the file is a regular file no one else may read and
// holds a password that is long enough; otherwise Bootstrap fails and
// asks for the file to be removed. Two processes starting at once both
// end with the password in the file: one writes it, the other reads it,
// and the store's unique user name lets only one of them add the user.
func (s *Service) Bootstrap(ctx context.Context, dataDir string) (string, error) {
	users, err := s.store.Users(ctx)
	if err != nil {
		return "", fmt.Errorf("list users: %w", err)
	}
	var taken *store.User // a non-admin called BootstrapUser
	for _, u := range users {
		if Role(u.Role) == RoleAdmin {
			return "", nil
		}
		if u.Name == BootstrapUser {
			taken = &u
		}
	}
	if taken != nil {
		s.noAdmin(ctx, Role(taken.Role))
		return "", nil
	}
	path := filepath.Join(dataDir, PasswordFile)
	pw, reused, err := passwordFile(path, randomString(bootstrapPasswordLen))
	if err != nil {
		return "", err
	}
	err = s.addUser(ctx, BootstrapUser, RoleAdmin, pw, true, BootstrapActor)
	if errors.Is(err, ErrExists) {
		// Another process created it a moment ago, or someone took the
		// name meanwhile.
		if u, err := s.store.User(ctx, BootstrapUser); err == nil && Role(u.Role) != RoleAdmin {
			s.noAdmin(ctx, Role(u.Role))
		}
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("create the first admin: %w", err)
	}
	s.log.InfoContext(ctx, "first admin created", telemetry.KeyUser, BootstrapUser, telemetry.KeyFile, path, "reused_file", reused)
	return path, nil
}

// noAdmin logs that there is no admin and that Bootstrap cannot make one
// because the name admin is taken by a user with role.
func (s *Service) noAdmin(ctx context.Context, role Role) {
	s.log.ErrorContext(ctx, "no admin, and the name "+BootstrapUser+" is taken by a "+string(role)+
		" so serve creates none: make a user an admin with `breakwater user role NAME --role admin`"+
		" or add one with `breakwater user add NAME --role admin`",
		telemetry.KeyUser, BootstrapUser, telemetry.KeyRole, string(role))
}

// passwordFile writes pw to path unless the file exists, and returns the
// password the file holds and whether it was there already. The content is
// written to a temporary file and linked into place, so a reader never
// sees half of it and an existing file is never replaced.
func passwordFile(path, pw string) (string, bool, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+PasswordFile+"-*")
	if err != nil {
		return "", false, fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600; Chmod makes sure of it whatever the
	// platform.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", false, fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.WriteString(pw + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", false, fmt.Errorf("write %s: %w", path, err)
	}
	err = os.Link(tmp.Name(), path)
	if err == nil {
		return pw, false, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return "", false, fmt.Errorf("write %s: %w", path, err)
	}
	existing, err := readPasswordFile(path)
	if err != nil {
		return "", false, fmt.Errorf("%s exists but no admin does, and it cannot be used (%w); remove it and start again", path, err)
	}
	return existing, true, nil
}

// readPasswordFile reads a password file left by an earlier start.
func readPasswordFile(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", errors.New("not a regular file")
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("mode %v lets others read it", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	pw := strings.TrimSuffix(string(b), "\n")
	if len(pw) < 20 || strings.ContainsAny(pw, "\r\n") {
		return "", errors.New("it does not hold one password of at least 20 characters")
	}
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	return pw, nil
}
