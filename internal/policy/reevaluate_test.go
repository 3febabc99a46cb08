package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/inventory"
)

func TestNewMatches(t *testing.T) {
	rescored := criticalOpen
	rescored.Score, rescored.Status = 10, inventory.StatusFixed
	otherPath := malware
	otherPath.Component.Path = "/app/node_modules/evil"

	tests := []struct {
		name string
		prev []Match
		now  []Match
		want []Match
	}{
		{
			name: "first evaluation: everything is new",
			now:  []Match{match("malware", ActionFail, malware)},
			want: []Match{match("malware", ActionFail, malware)},
		},
		{
			name: "nothing changed",
			prev: []Match{match("malware", ActionFail, malware)},
			now:  []Match{match("malware", ActionFail, malware)},
		},
		{
			name: "a policy fires for the first time",
			prev: []Match{match("malware", ActionFail, malware)},
			now:  []Match{match("malware", ActionFail, malware), match("critical", ActionFail, criticalOpen)},
			want: []Match{match("critical", ActionFail, criticalOpen)},
		},
		{
			name: "a policy finds one more finding",
			prev: []Match{match("critical", ActionFail, criticalOpen)},
			now:  []Match{match("critical", ActionFail, criticalOpen, criticalWontFix)},
			want: []Match{match("critical", ActionFail, criticalWontFix)},
		},
		{
			name: "a new score or status is not a new finding",
			prev: []Match{match("critical", ActionFail, criticalOpen)},
			now:  []Match{match("critical", ActionFail, rescored)},
		},
		{
			name: "the same record in another place is new",
			prev: []Match{match("malware", ActionFail, malware)},
			now:  []Match{match("malware", ActionFail, malware, otherPath)},
			want: []Match{match("malware", ActionFail, otherPath)},
		},
		{
			name: "an image condition that held before is not new",
			prev: []Match{match("old", ActionWarn)},
			now:  []Match{match("old", ActionWarn)},
		},
		{
			name: "a policy that stopped firing is not reported",
			prev: []Match{match("malware", ActionFail, malware)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Verdict{Matches: tt.now}.NewMatches(Verdict{Matches: tt.prev})
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("NewMatches (-got +want):\n%s", diff)
			}
		})
	}
}
