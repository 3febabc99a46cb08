package auth

import "context"

type principalKey struct{}

// WithPrincipal returns ctx carrying p, for the handlers after an
// authenticating middleware, and for the logs of changes made on p's
// behalf.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal WithPrincipal put into ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
