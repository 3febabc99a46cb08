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
		var top map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &top); err != nil {
			return formatUnknown
		}
		return detectJSON(top)
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

func detectJSON(top map[string]json.RawMessage) format {
	has := func(k string) bool { _, ok := top[k]; return ok }
	switch {
	case has("Header") && has("Annotations"):
		return formatTrackerList
	case has("secfixes") && has("distroversion"), has("packages") && has("distroversion"):
		return formatSecdb
	// A tracker export's keys are package names, so the NVD keys are
	// checked for their shape, not only their presence.
	case startsWith(top["vulnerabilities"], '['), isCVEObject(top["cve"]),
		has("id") && (has("sourceIdentifier") || has("vulnStatus")):
		return formatNVD
	case isOSV(has("id"), has):
		return formatOSV
	case isTrackerExport(top):
		return formatTrackerExport
	}
	return formatUnknown
}

// startsWith reports whether raw is a JSON value opening with c.
func startsWith(raw json.RawMessage, c byte) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == c
}

// isCVEObject reports whether raw is an object with a CVE id.
func isCVEObject(raw json.RawMessage) bool {
	var c struct {
		ID string `json:"id"`
	}
	return startsWith(raw, '{') && json.Unmarshal(raw, &c) == nil && strings.HasPrefix(c.ID, "CVE-")
}

// isOSV asks for an id and one more field every OSV record has.
func isOSV(id bool, has func(string) bool) bool {
	return id && (has("modified") || has("affected") || has("schema_version"))
}

// isTrackerExport checks one package of a {package: {CVE: {releases}}}
// document, which has no fixed keys to look for.
func isTrackerExport(top map[string]json.RawMessage) bool {
	for _, v := range top {
		var cves map[string]struct {
			Releases map[string]json.RawMessage `json:"releases"`
		}
		if json.Unmarshal(v, &cves) != nil {
			return false
		}
		for _, c := range cves {
			return c.Releases != nil
		}
	}
	return false
}
