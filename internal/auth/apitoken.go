package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"breakwater/internal/store"
	"breakwater/internal/telemetry"
	"breakwater/internal/when"
)

// TokenPrefix starts every API token secret, so a secret is recognisable
// in a leaked file and by secret scanners.
const TokenPrefix = "bw_"

// Lengths of a secret's parts: the ID is 16 hex digits (64 bits), the
// random part 40 base62 characters (about 238 bits).
const (
	tokenIDLen     = 16
	tokenRandomLen = 40
)

// touchEvery bounds how often a token's LastUsedAt is written: a busy CI
// token would otherwise write on every pull.
const touchEvery = time.Minute

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomString returns n characters of base62 from crypto/rand, which
// never fails.
func randomString(n int) string {
	return randomFrom(base62, n)
}

// randomFrom returns n characters of alphabet, uniformly: bytes that
// would bias the choice are drawn again.
func randomFrom(alphabet string, n int) string {
	out := make([]byte, 0, n)
	limit := 256 - 256%len(alphabet)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		rand.Read(buf)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// sha256Sum is how secrets and cookies are kept: their SHA-256.
func sha256Sum(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// parseToken returns the ID of a secret shaped like an API token.
func parseToken(secret string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(secret, TokenPrefix)
	if !ok {
		return "", false
	}
	id, random, ok := strings.Cut(rest, "_")
	if !ok || len(id) != tokenIDLen || len(random) != tokenRandomLen {
		return "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", false
	}
	return id, true
}

// LooksLikeToken reports whether secret has the shape of an API token
// secret (not whether it is valid).
func LooksLikeToken(secret string) bool {
	_, ok := parseToken(secret)
	return ok
}

// CreateToken creates an API token called name for user, valid for ttl
// (0: until revoked), and returns its secret, which is not kept and cannot
// be shown again, with its description. A name the user already has is
// ErrExists, a missing user store.ErrNotFound.
func (s *Service) CreateToken(ctx context.Context, user, name string, ttl time.Duration) (string, TokenInfo, error) {
	switch {
	case ttl < 0:
		return "", TokenInfo{}, invalidf("token lifetime must not be negative")
	case ttl > when.Max:
		return "", TokenInfo{}, invalidf("token lifetime must be at most 100 years; 0 is until revoked")
	}
	return s.createToken(ctx, user, name, ttl, time.Time{})
}

// CreateTokenUntil is CreateToken for a token that ends at until, which
// must be in the future.
func (s *Service) CreateTokenUntil(ctx context.Context, user, name string, until time.Time) (string, TokenInfo, error) {
	switch {
	case !until.After(s.now()):
		return "", TokenInfo{}, invalidf("token expiry %s is not in the future", until.UTC().Format(time.RFC3339))
	case until.Sub(s.now()) > when.Max:
		return "", TokenInfo{}, invalidf("token expiry %s is more than 100 years away", until.UTC().Format(time.RFC3339))
	}
	return s.createToken(ctx, user, name, 0, until)
}

// createToken makes a token ending ttl from now, or at until, or never.
func (s *Service) createToken(ctx context.Context, user, name string, ttl time.Duration, until time.Time) (string, TokenInfo, error) {
	if err := CheckName("token name", name); err != nil {
		return "", TokenInfo{}, err
	}
	if _, err := s.store.User(ctx, user); err != nil {
		return "", TokenInfo{}, err
	}
	idBytes := make([]byte, tokenIDLen/2)
	rand.Read(idBytes)
	id := hex.EncodeToString(idBytes)
	secret := TokenPrefix + id + "_" + randomFrom(base62, tokenRandomLen)
	now := s.now().UTC()
	t := store.Token{ID: id, User: user, Name: name, Hash: sha256Sum(secret), CreatedAt: now}
	switch {
	case ttl > 0:
		t.ExpiresAt = now.Add(ttl)
	case !until.IsZero():
		t.ExpiresAt = until.UTC()
	}
	if err := s.store.AddToken(ctx, t); err != nil {
		return "", TokenInfo{}, err
	}
	s.log.InfoContext(ctx, "api token created", telemetry.KeyUser, user, telemetry.KeyTokenName, name,
		telemetry.KeyTokenID, id, telemetry.KeyActor, actor(ctx))
	return secret, tokenInfo(t), nil
}

func tokenInfo(t store.Token) TokenInfo {
	return TokenInfo{ID: t.ID, User: t.User, Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt}
}

// Tokens lists the tokens of user ("" for every user's) by user and name,
// expired ones included.
func (s *Service) Tokens(ctx context.Context, user string) ([]TokenInfo, error) {
	ts, err := s.store.Tokens(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]TokenInfo, len(ts))
	for i, t := range ts {
		out[i] = tokenInfo(t)
	}
	return out, nil
}

// RevokeToken deletes the token user calls name, or returns
// store.ErrNotFound. It is refused at once everywhere: every use looks the
// token up again.
func (s *Service) RevokeToken(ctx context.Context, user, name string) error {
	id, err := s.store.DeleteToken(ctx, user, name)
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "api token revoked", telemetry.KeyUser, user, telemetry.KeyTokenName, name,
		telemetry.KeyTokenID, id, telemetry.KeyActor, actor(ctx))
	return nil
}

// TokenPrincipal returns the principal of API token tokenID if it is still
// valid (not revoked, not expired, its user still there), with the user's
// current role; otherwise an error matching ErrBadCredentials (and
// store.ErrNotFound when the token or user is gone). The registry guard
// calls it for bearer tokens issued in exchange for an API token.
func (s *Service) TokenPrincipal(ctx context.Context, tokenID string) (Principal, error) {
	t, err := s.store.Token(ctx, tokenID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: token %s: %w", ErrBadCredentials, tokenID, err)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("token %s: %w", tokenID, err)
	}
	return s.tokenPrincipal(ctx, t)
}

// tokenPrincipal checks a stored token's expiry and user, and records its
// use at most once per touchEvery.
func (s *Service) tokenPrincipal(ctx context.Context, t store.Token) (Principal, error) {
	now := s.now()
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return Principal{}, fmt.Errorf("%w: token %s expired", ErrBadCredentials, t.ID)
	}
	p, err := s.UserPrincipal(ctx, t.User)
	if err != nil {
		return Principal{}, err
	}
	if now.Sub(t.LastUsedAt) >= touchEvery {
		// A failed write only loses a timestamp; it must not fail a pull.
		if err := s.store.TouchToken(ctx, t.ID, now.UTC()); err != nil {
			s.log.WarnContext(ctx, "record api token use", telemetry.KeyTokenID, t.ID, telemetry.KeyError, err)
		}
	}
	p.Via, p.TokenID = ViaToken, t.ID
	return p, nil
}
