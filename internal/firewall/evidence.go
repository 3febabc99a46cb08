package firewall

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"breakwater/internal/inventory"
	"breakwater/internal/policy"
	"breakwater/internal/store"
)

// Evidence is what a verdict rests on, kept with the verdict and the
// quarantine record: the decision, every finding, and the image facts.
type Evidence struct {
	Verdict policy.Verdict `json:"verdict"`
	// Findings are all findings of the image, also those no policy fired on.
	Findings   []inventory.Finding `json:"findings,omitempty"`
	Components int                 `json:"components"`
	// InspectionError says why inspection failed; empty if it did not.
	InspectionError string    `json:"inspection_error,omitempty"`
	Created         time.Time `json:"created,omitzero"`
	Platform        string    `json:"platform,omitempty"`
}

// Malware counts the findings that mark malware.
func (e Evidence) Malware() int {
	n := 0
	for _, f := range e.Findings {
		if f.Malware {
			n++
		}
	}
	return n
}

func decodeEvidence(b []byte) (Evidence, error) {
	var e Evidence
	if len(b) == 0 {
		return e, nil
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("decode evidence: %w", err)
	}
	return e, nil
}

// inspection is what inspecting one image digest found, kept per digest so
// re-evaluation needs no layers and another repository holding the same
// image needs no second inspection.
type inspection struct {
	Inventory *inventory.Inventory `json:"inventory,omitempty"`
	// Error is the reason inspection failed; Inventory is nil then.
	Error    string    `json:"error,omitempty"`
	Created  time.Time `json:"created,omitzero"`
	Platform string    `json:"platform,omitempty"`
}

// encodeInspection gzips the JSON: an inventory lists every file of the
// image with its digest, hundreds of thousands of near-alike lines.
func encodeInspection(in inspection) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(in); err != nil {
		return nil, fmt.Errorf("encode inspection: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("encode inspection: %w", err)
	}
	return buf.Bytes(), nil
}

func decodeInspection(b []byte) (inspection, error) {
	var in inspection
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return in, fmt.Errorf("decode inspection: %w", err)
	}
	if err := json.NewDecoder(io.Reader(zr)).Decode(&in); err != nil {
		return in, fmt.Errorf("decode inspection: %w", err)
	}
	return in, nil
}

// highest returns the highest severity of the findings (malware counts as
// critical) and their highest score, for a quarantine record's filters.
func (e Evidence) highest() (severity string, score float64) {
	rank := 0
	for _, f := range e.Findings {
		r := store.SeverityRank(policy.SeverityOf(f))
		if f.Malware {
			r = len(store.Severities) - 1
		}
		rank = max(rank, r)
		if f.Scored {
			score = max(score, f.Score)
		}
	}
	if rank > 0 {
		severity = store.Severities[rank]
	}
	return severity, score
}

// vulns lists the ids and aliases of the findings, each once, for
// store.VerdictsWithVuln.
func (e Evidence) vulns() []string {
	var ids []string
	seen := map[string]bool{}
	for _, f := range e.Findings {
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			if id != "" && !seen[strings.ToUpper(id)] {
				seen[strings.ToUpper(id)] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}
