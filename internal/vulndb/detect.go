package vulndb

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// format is what a file holds, as recognised from its content.
type format int

const (
	formatUnknown format = iota
	formatOSV
	formatOSVYAML
	formatNVD
	formatTrackerExport
	formatTrackerList
	formatSecdb
	formatDigests
)

// maxYAMLSniff bounds the files tried as YAML: advisories are small, and
// parsing a large non-YAML file only to reject it wastes time.
const maxYAMLSniff = 4 << 20

// detect recognises data by the keys of its top-level object, or failing
// that as a digest list or an OSV record in YAML.
func detect(data []byte) format {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return detectJSON(trimmed)
	}
	if looksLikeDigestList(data) {
		return formatDigests
	}
	if len(data) <= maxYAMLSniff && utf8.Valid(data) {
		var top map[string]any
		has := func(k string) bool { _, ok := top[k]; return ok }
		if yaml.Unmarshal(data, &top) == nil && isOSV(has("id"), has) {
			return formatOSVYAML
		}
	}
	return formatUnknown
}

// topKeys are the top-level keys that tell the JSON formats apart. Only
// these are kept while recognising a file, so a feed of hundreds of
// megabytes is scanned, not copied. (encoding/json matches keys without
// regard to case; no format here has keys that differ only in case.)
type topKeys struct {
	Header           *sniffed `json:"Header"`
	Annotations      *sniffed `json:"Annotations"`
	Secfixes         *sniffed `json:"secfixes"`
	DistroVersion    *sniffed `json:"distroversion"`
	Packages         *sniffed `json:"packages"`
	Vulnerabilities  *sniffed `json:"vulnerabilities"`
	CVE              *sniffed `json:"cve"`
	ID               *sniffed `json:"id"`
	SourceIdentifier *sniffed `json:"sourceIdentifier"`
	VulnStatus       *sniffed `json:"vulnStatus"`
	Modified         *sniffed `json:"modified"`
	Affected         *sniffed `json:"affected"`
	SchemaVersion    *sniffed `json:"schema_version"`
}

// sniffed is one top-level value: its first byte, and its bytes when
// small enough to look into.
type sniffed struct {
	first byte
	raw   []byte
}

// maxSniffed bounds the values kept whole; only a cve object is looked
// into, and it is far smaller.
const maxSniffed = 1 << 20

func (s *sniffed) UnmarshalJSON(b []byte) error {
	s.first = b[0]
	if len(b) <= maxSniffed {
		s.raw = append([]byte(nil), b...) // b is only valid during the call
	}
	return nil
}

func detectJSON(data []byte) format {
	var top topKeys
	if err := json.Unmarshal(data, &top); err != nil {
		return formatUnknown
	}
	has := func(s *sniffed) bool { return s != nil }
	osvFields := map[string]*sniffed{
		"modified":       top.Modified,
		"affected":       top.Affected,
		"schema_version": top.SchemaVersion,
	}
	switch {
	case has(top.Header) && has(top.Annotations):
		return formatTrackerList
	case has(top.Secfixes) && has(top.DistroVersion), has(top.Packages) && has(top.DistroVersion):
		return formatSecdb
	// A tracker export's keys are package names, so the NVD keys are
	// checked for their shape, not only their presence.
	case top.Vulnerabilities != nil && top.Vulnerabilities.first == '[', isCVEObject(top.CVE),
		has(top.ID) && (has(top.SourceIdentifier) || has(top.VulnStatus)):
		return formatNVD
	case isOSV(has(top.ID), func(k string) bool { return osvFields[k] != nil }):
		return formatOSV
	case isTrackerExport(data):
		return formatTrackerExport
	}
	return formatUnknown
}

// isCVEObject reports whether s is an object with a CVE id.
func isCVEObject(s *sniffed) bool {
	var c struct {
		ID string `json:"id"`
	}
	return s != nil && s.first == '{' && json.Unmarshal(s.raw, &c) == nil && strings.HasPrefix(c.ID, "CVE-")
}

// isOSV asks for an id and one more field every OSV record has.
func isOSV(id bool, has func(string) bool) bool {
	return id && (has("modified") || has("affected") || has("schema_version"))
}

// isTrackerExport checks the first package of a {package: {CVE:
// {releases}}} document, which has no fixed keys to look for. Only that
// package's value is decoded.
func isTrackerExport(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	if _, err := dec.Token(); err != nil {
		return false
	}
	var cves map[string]struct {
		Releases map[string]json.RawMessage `json:"releases"`
	}
	if dec.Decode(&cves) != nil {
		return false
	}
	for _, c := range cves {
		if c.Releases == nil {
			return false
		}
	}
	return len(cves) > 0
}
