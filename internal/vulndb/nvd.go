package vulndb

import (
	"encoding/json"
	"fmt"
)

// nvdCVE is the part of an NVD CVE API 2.0 "cve" object breakwater keeps:
// the id, the English description and the CVSS metrics. NVD records carry
// no package names breakwater can match (CPE configurations are not
// read); they lend their scores to records that alias the CVE.
type nvdCVE struct {
	ID           string `json:"id"`
	VulnStatus   string `json:"vulnStatus"`
	Descriptions []struct {
		Lang  string `json:"lang"`
		Value string `json:"value"`
	} `json:"descriptions"`
	Metrics map[string][]struct {
		Source   string `json:"source"`
		Type     string `json:"type"`
		CVSSData struct {
			Version      string  `json:"version"`
			VectorString string  `json:"vectorString"`
			BaseScore    float64 `json:"baseScore"`
		} `json:"cvssData"`
	} `json:"metrics"`
}

// nvdMetricTypes maps NVD metric keys to OSV severity types. Other keys
// (ssvcV203, ...) carry no base score and are skipped.
var nvdMetricTypes = map[string]string{
	"cvssMetricV40": "CVSS_V4",
	"cvssMetricV31": "CVSS_V3",
	"cvssMetricV30": "CVSS_V3",
	"cvssMetricV2":  "CVSS_V2",
}

// parseNVD converts a bare cve object, {"cve": {...}}, or a feed of
// {"vulnerabilities": [{"cve": {...}}]}.
func parseNVD(data []byte) ([]Record, error) {
	var doc struct {
		CVE             *nvdCVE `json:"cve"`
		Vulnerabilities []struct {
			CVE nvdCVE `json:"cve"`
		} `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decode nvd record: %w", err)
	}
	var cves []nvdCVE
	switch {
	case doc.CVE != nil:
		cves = append(cves, *doc.CVE)
	case doc.Vulnerabilities != nil:
		for _, v := range doc.Vulnerabilities {
			cves = append(cves, v.CVE)
		}
	default:
		var c nvdCVE
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("decode nvd record: %w", err)
		}
		cves = append(cves, c)
	}

	recs := make([]Record, 0, len(cves))
	for _, c := range cves {
		if c.ID == "" {
			return nil, fmt.Errorf("decode nvd record: no id")
		}
		recs = append(recs, c.record())
	}
	return recs, nil
}

func (c nvdCVE) record() Record {
	r := Record{ID: c.ID, Withdrawn: c.VulnStatus == "Rejected"}
	for _, d := range c.Descriptions {
		if d.Lang == "en" {
			r.Summary = firstLine(d.Value)
			break
		}
	}
	for _, key := range []string{"cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2"} {
		for _, m := range c.Metrics[key] {
			r.Severity = append(r.Severity, Severity{
				Type:   nvdMetricTypes[key],
				Vector: m.CVSSData.VectorString,
				Score:  m.CVSSData.BaseScore,
			})
		}
	}
	return r
}
