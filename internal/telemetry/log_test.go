package telemetry

import (
	"bytes"
	"strings"
	"testing"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name, level, format string
		wantErr             bool
		wantDebug           bool
		wantPrefix          string
	}{
		{name: "defaults", wantPrefix: "time="},
		{name: "json debug", level: "DEBUG", format: "json", wantDebug: true, wantPrefix: "{"},
		{name: "warn text", level: "warn", format: "text", wantPrefix: "time="},
		{name: "bad level", level: "loud", wantErr: true},
		{name: "bad format", format: "xml", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := NewLogger(&buf, tt.level, tt.format)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewLogger(%q, %q) error = %v, want error %v", tt.level, tt.format, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			l.Debug("debug line")
			l.Error("error line")
			out := buf.String()
			if got := strings.Contains(out, "debug line"); got != tt.wantDebug {
				t.Errorf("debug line logged = %v, want %v; output:\n%s", got, tt.wantDebug, out)
			}
			if !strings.HasPrefix(out, tt.wantPrefix) {
				t.Errorf("output %q, want prefix %q", out, tt.wantPrefix)
			}
		})
	}
}

func TestOrDiscard(t *testing.T) {
	l := OrDiscard(nil)
	if l == nil {
		t.Fatal("OrDiscard(nil) = nil, want a logger")
	}
	l.Info("dropped") // must not panic
	if l.Enabled(t.Context(), 12) {
		t.Error("discard logger reports a level as enabled")
	}
}
