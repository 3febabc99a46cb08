package oci

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"single component", "node", true},
		{"nested", "library/node", true},
		{"host-like first component", "ghcr.io/org/app", true},
		{"separators", "a.b_c__d-e---f/g", true},
		{"upper case", "Library/node", false},
		{"dot dot", "library/../etc", false},
		{"leading slash", "/node", false},
		{"trailing slash", "node/", false},
		{"empty component", "library//node", false},
		{"empty", "", false},
		{"encoded slash", "library%2Fnode", false},
		{"colon", "localhost:5000/node", false},
		{"leading separator", "-node", false},
		{"triple underscore", "a___b", false},
		{"too long", strings.Repeat("a", MaxNameLength+1), false},
		{"longest", strings.Repeat("a", MaxNameLength), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName(tt.in)
			if tt.ok && err != nil {
				t.Fatalf("ValidateName(%q) = %v, want nil", tt.in, err)
			}
			if !tt.ok && !errors.Is(err, ErrNameInvalid) {
				t.Fatalf("ValidateName(%q) = %v, want ErrNameInvalid", tt.in, err)
			}
		})
	}
}

func TestParseReference(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		in      string
		wantTag string
		wantDig string
		wantErr error
	}{
		{"tag", "20", "20", "", nil},
		{"tag with dots", "1.2.3-alpine_x", "1.2.3-alpine_x", "", nil},
		{"digest", "sha256:" + hex, "", "sha256:" + hex, nil},
		{"tag too long", strings.Repeat("a", 129), "", "", ErrManifestInvalidRef},
		{"tag leading dot", ".x", "", "", ErrManifestInvalidRef},
		{"tag slash", "a/b", "", "", ErrManifestInvalidRef},
		{"short hex", "sha256:" + hex[:63], "", "", ErrDigestInvalid},
		{"upper hex", "sha256:" + strings.ToUpper(hex), "", "", ErrDigestInvalid},
		{"not hex", "sha256:" + strings.Repeat("zz", 32), "", "", ErrDigestInvalid},
		{"sha512", "sha512:" + strings.Repeat("ab", 64), "", "", ErrDigestInvalid},
		{"unknown algorithm", "md5:" + hex[:32], "", "", ErrDigestInvalid},
		{"empty hex", "sha256:", "", "", ErrDigestInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReference(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseReference(%q) error = %v, want %v", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseReference(%q) = %v", tt.in, err)
			}
			if got.Tag != tt.wantTag || got.Digest.String() != tt.wantDig {
				t.Fatalf("ParseReference(%q) = {%q %q}, want {%q %q}", tt.in, got.Tag, got.Digest, tt.wantTag, tt.wantDig)
			}
			if got.String() != tt.in || got.IsDigest() != (tt.wantDig != "") {
				t.Fatalf("String/IsDigest of %q = %q/%v", tt.in, got.String(), got.IsDigest())
			}
		})
	}
}

func TestErrorIs(t *testing.T) {
	custom := ErrDenied.WithMessage("blocked by policy")
	if !errors.Is(custom, ErrDenied) {
		t.Fatal("a re-worded DENIED no longer matches ErrDenied")
	}
	if errors.Is(custom, ErrNameUnknown) {
		t.Fatal("DENIED matches NAME_UNKNOWN")
	}
	if got := AsError(errors.Join(errors.New("ctx"), custom)); got == nil || got.Message != "blocked by policy" {
		t.Fatalf("AsError = %v, want the wrapped DENIED", got)
	}
	if ErrDenied.Message == custom.Message {
		t.Fatal("WithMessage changed the sentinel")
	}
}
