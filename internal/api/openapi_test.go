package api

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes keeps the document and the route table in
// step: every route is documented and every documented operation served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Info       map[string]any                        `json:"info"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
			Schemas         map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi is %q, want 3.1.x", doc.OpenAPI)
	}
	for _, k := range []string{"title", "version"} {
		if s, _ := doc.Info[k].(string); s == "" {
			t.Errorf("info.%s is missing", k)
		}
	}
	for _, k := range []string{"bearerToken", "basic", "session"} {
		if doc.Components.SecuritySchemes[k] == nil {
			t.Errorf("security scheme %s is missing", k)
		}
	}

	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range routes {
		served[rt.method+" "+rt.path] = true
		if !documented[rt.method+" "+rt.path] {
			t.Errorf("route %s %s is not in openapi.json", rt.method, rt.path)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("openapi.json documents %s, which is not served", op)
		}
	}
}

// TestOpenAPIRefs checks that every $ref names a component that exists.
func TestOpenAPIRefs(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`"\$ref":\s*"#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(string(OpenAPI()), -1)
	if len(refs) == 0 {
		t.Fatal("no $ref found; the pattern is wrong")
	}
	comps := doc["components"].(map[string]any)
	var missing []string
	for _, m := range refs {
		kind, _ := comps[m[1]].(map[string]any)
		if kind[m[2]] == nil {
			missing = append(missing, m[1]+"/"+m[2])
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("$refs to missing components: %v", slices.Compact(missing))
	}
}

// TestOpenAPIParamsAndErrors holds each operation's query parameters to
// the ones its route takes, and its documented errors to what the
// middleware can answer: 400, 401 and 429 for every authenticated route,
// 403 where a role is needed, 413 and 415 where a body is read.
func TestOpenAPIParamsAndErrors(t *testing.T) {
	type op struct {
		Parameters []struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
		RequestBody json.RawMessage            `json:"requestBody"`
		Responses   map[string]json.RawMessage `json:"responses"`
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, rt := range routes {
		raw := doc.Paths[rt.path][strings.ToLower(rt.method)]
		if raw == nil {
			continue // TestOpenAPIMatchesRoutes reports it
		}
		var o op
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatalf("%s %s: %v", rt.method, rt.path, err)
		}
		var query []string
		for _, p := range o.Parameters {
			if p.In == "query" {
				query = append(query, p.Name)
			}
		}
		want := slices.Clone(rt.params)
		slices.Sort(query)
		slices.Sort(want)
		if !slices.Equal(query, want) {
			t.Errorf("%s %s documents query parameters %v; the route takes %v", rt.method, rt.path, query, want)
		}
		if rt.access == anyone {
			continue
		}
		codes := []string{"400", "401", "429"}
		if rt.access == adminOnly || rt.access == selfOnly {
			codes = append(codes, "403")
		}
		if o.RequestBody != nil {
			codes = append(codes, "413", "415")
		}
		for _, c := range codes {
			if o.Responses[c] == nil {
				t.Errorf("%s %s does not document %s", rt.method, rt.path, c)
			}
		}
	}
}
