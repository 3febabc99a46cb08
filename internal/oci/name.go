package oci

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

// MaxNameLength bounds a repository name. The spec asks registries to accept at
// least 255 characters in host plus name; longer names are refused early so
// they never reach the store or an upstream URL.
const MaxNameLength = 255

// nameComponent is the spec's path-component grammar; the whole name is one
// or more components joined by "/". It admits no "..", no upper case and no
// empty component, which is what keeps names safe to use as store keys.
var (
	nameComponent = `[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*`
	nameRE        = regexp.MustCompile(`^` + nameComponent + `(?:/` + nameComponent + `)*$`)
	tagRE         = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// ValidateName returns ErrNameInvalid, wrapped with the reason, unless name
// is a repository name the spec allows.
func ValidateName(name string) error {
	if len(name) > MaxNameLength {
		return fmt.Errorf("repository name longer than %d characters: %w", MaxNameLength, ErrNameInvalid)
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("repository name %q does not match the spec's grammar: %w", name, ErrNameInvalid)
	}
	return nil
}

// Reference is either a tag or a digest; exactly one is set.
type Reference struct {
	Tag    string
	Digest digest.Digest
}

// String returns the tag or the digest.
func (r Reference) String() string {
	if r.Digest != "" {
		return r.Digest.String()
	}
	return r.Tag
}

// IsDigest reports whether the reference names content by digest.
func (r Reference) IsDigest() bool { return r.Digest != "" }

// ParseReference reads a manifest reference: a digest if it contains ":",
// otherwise a tag.
func ParseReference(s string) (Reference, error) {
	if strings.Contains(s, ":") {
		d, err := ParseDigest(s)
		if err != nil {
			return Reference{}, err
		}
		return Reference{Digest: d}, nil
	}
	if !tagRE.MatchString(s) {
		return Reference{}, fmt.Errorf("tag %q does not match the spec's grammar: %w", s, ErrManifestInvalidRef)
	}
	return Reference{Tag: s}, nil
}

// ParseDigest accepts only well-formed sha256 digests. Other algorithms are
// refused rather than trusted: breakwater verifies every byte it stores and
// verifies with sha256 only.
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("digest %q: %v: %w", s, err, ErrDigestInvalid)
	}
	if d.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("digest algorithm %q is not supported, only sha256: %w", d.Algorithm(), ErrDigestInvalid)
	}
	return d, nil
}
