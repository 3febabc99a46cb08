package main

import (
	"strings"
	"testing"
)

func TestParseImage(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		image   string
		name    string
		ref     string
		wantErr string
	}{
		{"debian", "debian", "latest", ""},
		{"debian:12", "debian", "12", ""},
		{"library/debian:12", "library/debian", "12", ""},
		{"ghcr.io/org/app:1.0", "ghcr.io/org/app", "1.0", ""},
		{"registry.example:5000/app", "registry.example:5000/app", "latest", "invalid"},
		{"app@" + d, "app", d, ""},
		{"app:1@" + d, "app", d, ""},
		{"app@sha256:short", "", "", "invalid"},
		{"Debian:12", "", "", "invalid"},
		{"debian:", "", "", "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			name, ref, err := parseImage(tt.image)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), tt.wantErr) {
					t.Errorf("got %q %q %v, want an error containing %q", name, ref, err, tt.wantErr)
				}
				return
			}
			if err != nil || name != tt.name || ref.String() != tt.ref {
				t.Errorf("got %q %q %v, want %q %q", name, ref, err, tt.name, tt.ref)
			}
		})
	}
}
