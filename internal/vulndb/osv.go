package vulndb

import (
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// osvRecord is the part of an OSV record (schema 1.x) breakwater keeps.
type osvRecord struct {
	ID        string   `json:"id"`
	Aliases   []string `json:"aliases"`
	Summary   string   `json:"summary"`
	Details   string   `json:"details"`
	Withdrawn string   `json:"withdrawn"`
	Affected  []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Ranges   []Range  `json:"ranges"`
		Versions []string `json:"versions"`
		Severity []struct {
			Type  string `json:"type"`
			Score string `json:"score"`
		} `json:"severity"`
	} `json:"affected"`
	Severity []struct {
		Type  string `json:"type"`
		Score string `json:"score"`
	} `json:"severity"`
	DatabaseSpecific struct {
		Severity any `json:"severity"`
	} `json:"database_specific"`
}

// parseOSV converts one OSV record in JSON.
func parseOSV(data []byte) (Record, error) {
	var o osvRecord
	if err := json.Unmarshal(data, &o); err != nil {
		return Record{}, fmt.Errorf("decode osv record: %w", err)
	}
	if o.ID == "" {
		return Record{}, fmt.Errorf("decode osv record: no id")
	}
	r := Record{
		ID:        o.ID,
		Aliases:   o.Aliases,
		Summary:   o.Summary,
		Withdrawn: o.Withdrawn != "",
	}
	if r.Summary == "" {
		r.Summary = firstLine(o.Details)
	}
	if label, ok := o.DatabaseSpecific.Severity.(string); ok {
		r.Label = strings.ToLower(label)
	}
	for _, s := range o.Severity {
		r.Severity = append(r.Severity, Severity{Type: s.Type, Vector: s.Score})
	}
	for _, a := range o.Affected {
		// Per-package severity (OSV 1.5) joins the record's: a finding
		// reports the record's highest score either way.
		for _, s := range a.Severity {
			r.Severity = append(r.Severity, Severity{Type: s.Type, Vector: s.Score})
		}
		r.Affected = append(r.Affected, Affected{
			Ecosystem: a.Package.Ecosystem,
			Name:      a.Package.Name,
			Ranges:    a.Ranges,
			Versions:  a.Versions,
		})
	}
	return r, nil
}

// yamlToJSON re-encodes a YAML document as JSON with every scalar as a
// string (except booleans and nulls): OSV YAML leaves versions like 0 or
// 1.10 unquoted, and a number would lose them ("1.10" -> 1.1).
func yamlToJSON(data []byte) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, err
	}
	v, err := yamlValue(&n, 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// maxYAMLDepth refuses documents nested deeper than any advisory is.
const maxYAMLDepth = 64

func yamlValue(n *yaml.Node, depth int) (any, error) {
	if depth > maxYAMLDepth {
		return nil, fmt.Errorf("yaml nested deeper than %d", maxYAMLDepth)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0], depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := yamlValue(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.AliasNode:
		// Aliases could expand exponentially; advisories do not use them.
		return nil, fmt.Errorf("yaml aliases are not supported")
	}
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!bool":
		return n.Value == "true", nil
	}
	return n.Value, nil
}

// firstLine returns s up to its first line break, trimmed.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}
