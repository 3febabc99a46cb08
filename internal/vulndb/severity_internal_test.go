package vulndb

import (
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCVSSAgainstNVD scores every CVSS v3.0, v3.1 and v4.0 vector in the
// NVD test records and compares with the base score NVD published beside
// it.
func TestCVSSAgainstNVD(t *testing.T) {
	versions := map[string]int{}
	err := filepath.WalkDir("testdata/nvd", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		recs, err := parseNVD(data)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		for _, r := range recs {
			for _, s := range r.Severity {
				if s.Type == "CVSS_V2" {
					continue
				}
				versions[s.Vector[:8]]++
				t.Run(r.ID+" "+s.Vector, func(t *testing.T) {
					got, err := cvssScore(s.Vector)
					if err != nil {
						t.Fatalf("score: %v", err)
					}
					if math.Abs(got-s.Score) > 0.05 {
						t.Errorf("score = %.1f, want NVD's %.1f", got, s.Score)
					}
				})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"CVSS:3.0", "CVSS:3.1", "CVSS:4.0"} {
		if versions[v] == 0 {
			t.Errorf("no %s vector in the NVD test data: the table lost a version", v)
		}
	}
}

func TestCVSSScore(t *testing.T) {
	tests := []struct {
		vector  string
		want    float64
		wantErr bool
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, false},
		{"CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:H/A:N", 5.5, false},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3, false},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P", 0, true}, // v2 is not scored
		{"CVSS:3.1/AV:X", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.vector, func(t *testing.T) {
			got, err := cvssScore(tt.vector)
			if (err != nil) != tt.wantErr || math.Abs(got-tt.want) > 0.05 {
				t.Errorf("cvssScore = %.1f, %v; want %.1f, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestBest(t *testing.T) {
	tests := []struct {
		name   string
		sevs   []Severity
		want   float64
		wantOK bool
	}{
		{"none", nil, 0, false},
		{"v2 only", []Severity{{Type: "CVSS_V2", Vector: "AV:N/AC:L/Au:N/C:C/I:C/A:C", Score: 10}}, 0, false},
		{"highest of v3 and v4", []Severity{
			{Type: "CVSS_V3", Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:L"},
			{Type: "CVSS_V4", Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
		}, 9.3, true},
		{"unparsable vector falls back to the source's score", []Severity{{Type: "CVSS_V3", Vector: "CVSS:3.1/broken", Score: 7.5}}, 7.5, true},
		{"unparsable without a score", []Severity{{Type: "CVSS_V3", Vector: "CVSS:3.1/broken"}}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, vector, ok := best(tt.sevs)
			if ok != tt.wantOK || math.Abs(got-tt.want) > 0.05 {
				t.Errorf("best = %.1f (%s), %v; want %.1f, %v", got, vector, ok, tt.want, tt.wantOK)
			}
			if ok && !strings.HasPrefix(vector, "CVSS:") {
				t.Errorf("vector = %q, want the one scored", vector)
			}
		})
	}
}
