package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"breakwater/internal/api"
	"breakwater/internal/store"
)

// TestOpenAPIDescribesAnswers holds real answers to the document: every
// field an answer carries is documented, with its type, and every field
// the document requires is there. A field added to a Go struct and not to
// openapi.json fails here.
func TestOpenAPIDescribesAnswers(t *testing.T) {
	e := newEnv(t, true)
	// An hour of statistics, so the overview has a series to check.
	if err := e.meta.AddStats(context.Background(), []store.StatsDelta{{Hour: e.now.Add(-time.Hour), Upstream: "docker.io",
		StatsCounts: store.StatsCounts{Pulls: 2, CacheHits: 1, CacheMisses: 1}}}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	paths := doc["paths"].(map[string]any)
	args := map[string]string{"{id}": e.evilID, "{name}": adminUser}
	// The exposure route reads a vulnerability id, not a quarantine one.
	vuln := "/api/v1/vulnerabilities/cve-2024-0002/images"
	checked := 0
	for path, item := range paths {
		op, ok := item.(map[string]any)["get"].(map[string]any)
		if !ok || path == "/api/v1/openapi.json" {
			continue
		}
		url := path
		if path == "/api/v1/stats" {
			url += "?since=2h"
		}
		for k, v := range args {
			url = strings.ReplaceAll(url, k, v)
		}
		if strings.HasPrefix(path, "/api/v1/vulnerabilities/") {
			url = vuln
		}
		a := e.call(t, e.admin(), "GET", url, nil)
		if a.status != http.StatusOK {
			t.Errorf("GET %s: %d %s", url, a.status, a.body)
			continue
		}
		schema := responseSchema(t, op, "200")
		var v any
		if err := json.Unmarshal(a.body, &v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		for _, p := range conform(doc, schema, v, "") {
			t.Errorf("GET %s: %s", url, p)
		}
		checked++
	}
	if checked < 10 {
		t.Errorf("checked %d GET routes; the document lists more", checked)
	}

	// Answers of changes: a new token, a note on a record.
	post := func(path, status string, body any) {
		op := paths[path].(map[string]any)["post"].(map[string]any)
		url := strings.NewReplacer("{id}", e.evilID, "{name}", adminUser).Replace(path)
		a := e.call(t, e.admin(), "POST", url, body)
		if fmt.Sprint(a.status) != status {
			t.Fatalf("POST %s: %d %s", url, a.status, a.body)
		}
		var v any
		if err := json.Unmarshal(a.body, &v); err != nil {
			t.Fatalf("POST %s: %v", url, err)
		}
		for _, p := range conform(doc, responseSchema(t, op, status), v, "") {
			t.Errorf("POST %s: %s", url, p)
		}
	}
	post("/api/v1/users/{name}/tokens", "201", map[string]any{"name": "schema", "ttl_seconds": 3600})
	post("/api/v1/quarantine/{id}/notes", "201", map[string]any{"text": "checked against the document"})
}

func responseSchema(t *testing.T, op map[string]any, status string) any {
	t.Helper()
	r, ok := op["responses"].(map[string]any)[status].(map[string]any)
	if !ok {
		t.Fatalf("no %s response documented", status)
	}
	return r["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
}

// conform lists where v departs from schema, a JSON schema of the kinds
// openapi.json uses: $ref, allOf, type (or a list of types), enum,
// properties with required, additionalProperties and items.
func conform(doc map[string]any, schema any, v any, at string) []string {
	s := resolve(doc, schema)
	var out []string
	if ts := types(s); len(ts) > 0 && !slices.Contains(ts, kind(v)) &&
		!(kind(v) == "integer" && slices.Contains(ts, "number")) {
		return []string{fmt.Sprintf("%s is %s, documented as %v", name(at), kind(v), ts)}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		out = append(out, fmt.Sprintf("%s is %v, not one of %v", name(at), v, enum))
	}
	switch x := v.(type) {
	case map[string]any:
		props, required, open := objectParts(doc, s)
		for k, fv := range x {
			ps, ok := props[k]
			if !ok {
				if !open {
					out = append(out, fmt.Sprintf("%s is not documented", name(at+"."+k)))
				}
				continue
			}
			out = append(out, conform(doc, ps, fv, at+"."+k)...)
		}
		for _, k := range required {
			if _, ok := x[k]; !ok {
				out = append(out, fmt.Sprintf("%s is required but missing", name(at+"."+k)))
			}
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, iv := range x {
				out = append(out, conform(doc, items, iv, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return out
}

func name(at string) string {
	if at == "" {
		return "the answer"
	}
	return strings.TrimPrefix(at, ".")
}

// resolve follows $ref to the schema it names.
func resolve(doc map[string]any, schema any) map[string]any {
	s, _ := schema.(map[string]any)
	for s != nil {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		s = doc["components"].(map[string]any)["schemas"].(map[string]any)[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	}
	return map[string]any{}
}

// objectParts merges an object schema with those of its allOf: the
// properties, the required names, and whether other keys are allowed.
func objectParts(doc map[string]any, s map[string]any) (map[string]any, []string, bool) {
	props := map[string]any{}
	var required []string
	open := false
	if ap, ok := s["additionalProperties"]; ok && ap != false {
		open = true
	}
	if p, ok := s["properties"].(map[string]any); ok {
		for k, v := range p {
			props[k] = v
		}
	}
	for _, r := range asList(s["required"]) {
		required = append(required, r.(string))
	}
	for _, sub := range asList(s["allOf"]) {
		p, r, o := objectParts(doc, resolve(doc, sub))
		for k, v := range p {
			props[k] = v
		}
		required = append(required, r...)
		open = open || o
	}
	return props, required, open
}

func asList(v any) []any { l, _ := v.([]any); return l }

func types(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

func kind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	}
	return "object"
}
