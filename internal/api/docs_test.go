package api

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"breakwater/internal/admin"
)

// TestAuditActionsDoc holds the list of audit actions in docs/api.md to
// the ones the audit filter takes, so a new action is not left out.
func TestAuditActionsDoc(t *testing.T) {
	b, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\nThe actions: ")
	if !ok {
		t.Fatal(`docs/api.md has no paragraph starting "The actions: "`)
	}
	para, _, _ := strings.Cut(rest, "\n\n")
	var got []string
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(para, -1) {
		got = append(got, m[1])
	}
	want := slices.Clone(admin.AuditActions)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("docs/api.md lists the actions %v; want %v", got, want)
	}
}
