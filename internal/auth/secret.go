package auth

import (
	"context"
	"crypto/rand"
	"fmt"
)

// signingKeyName names the registry token signing key among the store's
// secrets.
const signingKeyName = "registry-token-key"

// SigningKey returns the key registry tokens are signed with (HMAC, 32
// random bytes), created on first use and shared through the store by
// every process and replica on it.
func (s *Service) SigningKey(ctx context.Context) ([]byte, error) {
	key, err := s.store.Secret(ctx, signingKeyName, func() ([]byte, error) {
		b := make([]byte, 32)
		rand.Read(b)
		return b, nil
	})
	if err != nil {
		return nil, fmt.Errorf("registry token signing key: %w", err)
	}
	return key, nil
}
