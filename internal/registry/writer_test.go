package registry

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequestID(t *testing.T) {
	tests := []struct {
		name, header string
		wantEcho     bool
	}{
		{"plain", "abc-123_X.y", true},
		{"absent", "", false},
		{"newline", "abc\nlevel=ERROR", false},
		{"space", "a b", false},
		{"too long", strings.Repeat("a", 65), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v2/", nil)
			if tt.header != "" {
				r.Header.Set("X-Request-Id", tt.header)
			}
			got := requestID(r)
			if (got == tt.header) != tt.wantEcho {
				t.Errorf("requestID(%q) = %q, want echo %v", tt.header, got, tt.wantEcho)
			}
			if got == "" || strings.ContainsFunc(got, notIDChar) {
				t.Errorf("requestID(%q) = %q, want a plain non-empty ID", tt.header, got)
			}
		})
	}
}
