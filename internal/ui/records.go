package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	"gopkg.in/yaml.v3"

	"breakwater/internal/admin"
	"breakwater/internal/policy"
	"breakwater/internal/store"
	"breakwater/internal/when"
)

// violations lists, per repository, what the firewall objected to, in
// audit mode as well as quarantine mode.
func (u *UI) violations(w http.ResponseWriter, r *http.Request, v visitor) {
	vs, err := u.opts.Admin.Violations(r.Context())
	if err != nil {
		u.failErr(w, r, v, err)
		return
	}
	u.render(w, r, http.StatusOK, "violations", view{Title: "Violations", Nav: "violations", V: v,
		Data: struct{ Repos []store.RepoViolations }{vs}})
}

type auditData struct {
	User, Repo, Digest, Action, Since, Until string
	Actions                                  []option
	Items                                    []store.AuditEntry
	Next                                     string
}

// audit shows the audit log, newest first, with filters and a link to
// the next (older) page.
func (u *UI) audit(w http.ResponseWriter, r *http.Request, v visitor) {
	q := r.URL.Query()
	d := auditData{User: q.Get("user"), Repo: q.Get("repo"), Digest: q.Get("digest"), Action: q.Get("action"),
		Since: q.Get("since"), Until: q.Get("until")}
	bad := func(msg string) {
		u.render(w, r, http.StatusBadRequest, "audit", view{Title: "Audit log", Nav: "audit", V: v, Data: d, Error: msg})
	}
	d.Actions = options(d.Action, "", "any")
	for _, a := range admin.AuditActions {
		d.Actions = append(d.Actions, option{Value: a, Label: a, Selected: a == d.Action})
	}
	if !hasOption(d.Actions, d.Action) {
		bad(fmt.Sprintf("The audit log has no action %q; pick one from the list.", d.Action))
		return
	}
	now := u.opts.Now()
	since, err := when.Since(d.Since, now)
	if err != nil {
		bad("Since must be " + when.SinceForms + ".")
		return
	}
	until, err := when.Since(d.Until, now)
	if err != nil {
		bad("Until must be " + when.SinceForms + ".")
		return
	}
	var before int64
	if s := q.Get("before"); s != "" {
		if before, err = strconv.ParseInt(s, 10, 64); err != nil || before < 0 {
			bad("Before must be an entry number.")
			return
		}
	}
	query := admin.AuditQuery{Since: since, Until: until, User: d.User, Repo: d.Repo, Action: d.Action, Before: before, Limit: 100}
	if d.Digest != "" {
		dg, err := digest.Parse(d.Digest)
		if err != nil {
			bad("The digest must look like sha256:<64 hex digits>.")
			return
		}
		query.Digest = dg
	}
	page, err := u.opts.Admin.Audit(r.Context(), query)
	if err != nil {
		if status, msg := errStatus(err); status == http.StatusBadRequest {
			bad(msg)
			return
		}
		u.failErr(w, r, v, err)
		return
	}
	d.Items = page.Items
	if page.Next > 0 {
		nq := url.Values{}
		for k, s := range map[string]string{"user": d.User, "repo": d.Repo, "digest": d.Digest, "action": d.Action, "since": d.Since, "until": d.Until} {
			if s != "" {
				nq.Set(k, s)
			}
		}
		nq.Set("before", strconv.FormatInt(page.Next, 10))
		d.Next = Prefix + "/audit?" + nq.Encode()
	}
	u.render(w, r, http.StatusOK, "audit", view{Title: "Audit log", Nav: "audit", V: v, Data: d})
}

type exposureData struct {
	ID     string
	Asked  bool
	Images []admin.Exposure
}

// vulnerabilities answers "which images carry vulnerability X, and who
// pulled them".
func (u *UI) vulnerabilities(w http.ResponseWriter, r *http.Request, v visitor) {
	d := exposureData{ID: strings.TrimSpace(r.URL.Query().Get("id"))}
	if d.ID != "" {
		d.Asked = true
		imgs, err := u.opts.Admin.Exposure(r.Context(), d.ID)
		if err != nil {
			if status, msg := errStatus(err); status == http.StatusBadRequest {
				u.render(w, r, status, "vulnerabilities", view{Title: "Vulnerabilities", Nav: "vulnerabilities", V: v, Data: d, Error: msg})
				return
			}
			u.failErr(w, r, v, err)
			return
		}
		d.Images = imgs
	}
	u.render(w, r, http.StatusOK, "vulnerabilities", view{Title: "Vulnerabilities", Nav: "vulnerabilities", V: v, Data: d})
}

type policiesData struct {
	Set  policy.Set
	Text string
}

// policies shows the policies in force; admins get them as YAML to edit.
func (u *UI) policies(w http.ResponseWriter, r *http.Request, v visitor) {
	set, err := u.opts.Admin.Policies(r.Context())
	if err != nil {
		u.failErr(w, r, v, err)
		return
	}
	text, err := yaml.Marshal(set)
	if err != nil {
		u.failErr(w, r, v, fmt.Errorf("encode policies: %w", err))
		return
	}
	u.render(w, r, http.StatusOK, "policies", view{Title: "Policies", Nav: "policies", V: v,
		Data: policiesData{Set: set, Text: string(text)}})
}

// setPolicies replaces the policies with the posted YAML or JSON; what is
// wrong with it is shown above the text, which is kept for correcting.
func (u *UI) setPolicies(w http.ResponseWriter, r *http.Request, v visitor) {
	text := r.PostForm.Get("policies")
	bad := func(status int, msg string, problems []string) {
		set, err := u.opts.Admin.Policies(r.Context())
		if err != nil {
			u.failErr(w, r, v, err)
			return
		}
		u.render(w, r, status, "policies", view{Title: "Policies", Nav: "policies", V: v,
			Data: policiesData{Set: set, Text: text}, Error: msg, Problems: problems})
	}
	if !v.P.IsAdmin() {
		u.fail(w, r, v, http.StatusForbidden, "Only admins may do this.")
		return
	}
	set, problems, err := parsePolicies(text)
	if err != nil {
		bad(http.StatusBadRequest, err.Error(), nil)
		return
	}
	if problems != nil {
		bad(http.StatusBadRequest, "The policies are not valid; fix these and save again:", problems)
		return
	}
	if err := u.opts.Admin.SetPolicies(r.Context(), v.P, set); err != nil {
		if status, msg := errStatus(err); status == http.StatusBadRequest {
			bad(status, msg, nil)
			return
		}
		u.failErr(w, r, v, err)
		return
	}
	http.Redirect(w, r, Prefix+"/policies?done=policies", http.StatusSeeOther)
}

// parsePolicies reads the policies as YAML (JSON is YAML too): a bare
// list, or the API's {"policies": [...]} so what GET /api/v1/policies
// answers can be pasted back. Unknown keys are refused. A parse error is
// returned as one sentence; validation problems come back as problems,
// every one, as the API lists them.
func parsePolicies(text string) (policy.Set, []string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, nil, fmt.Errorf("The policies do not parse as YAML or JSON: %s.", plainYAMLError(err))
	}
	if len(doc.Content) == 0 {
		return nil, nil, errors.New("The policy list is empty; write [] to remove every policy.")
	}
	var set policy.Set
	var target any = &set
	wrapped := struct {
		Policies *policy.Set `yaml:"policies"`
	}{}
	switch doc.Content[0].Kind {
	case yaml.SequenceNode:
	case yaml.MappingNode:
		target = &wrapped
	default:
		return nil, nil, errors.New(`The policies must be a list, or an object with "policies", a list.`)
	}
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(target); err != nil {
		return nil, nil, fmt.Errorf("The policies do not parse as YAML or JSON: %s.", plainYAMLError(err))
	}
	if target == &wrapped {
		if wrapped.Policies == nil {
			return nil, nil, errors.New(`The object needs "policies", a list; write [] to remove every policy.`)
		}
		set = *wrapped.Policies
	}
	if err := set.Validate(); err != nil {
		return nil, problemList(err), nil
	}
	return set, nil, nil
}

// problemList splits a joined error into its parts, one per line.
func problemList(err error) []string {
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

var (
	yamlUnknownField = regexp.MustCompile(`field (\S+) not found in type .*$`)
	yamlWrongKind    = regexp.MustCompile("cannot unmarshal !!(\\w+)(?: `[^`]*`)? into \\S+")
)

// yamlKinds name YAML's tags in words.
var yamlKinds = map[string]string{
	"map": "an object", "seq": "a list", "str": "text", "int": "a number",
	"float": "a number", "bool": "true or false", "null": "nothing",
}

// plainYAMLError turns the YAML library's error into words about the
// text, without its prefix or the names of Go types.
func plainYAMLError(err error) string {
	var parts []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		parts = te.Errors
	} else {
		parts = []string{err.Error()}
	}
	for i, p := range parts {
		p = strings.TrimPrefix(p, "yaml: ")
		p = yamlUnknownField.ReplaceAllString(p, "there is no key $1")
		p = yamlWrongKind.ReplaceAllStringFunc(p, func(m string) string {
			kind := yamlWrongKind.FindStringSubmatch(m)[1]
			if w, ok := yamlKinds[kind]; ok {
				kind = w
			}
			return kind + " is not expected here"
		})
		parts[i] = p
	}
	return strings.Join(parts, "; ")
}

// compactJSON shows a value, such as a policy's conditions, as one line
// of JSON for a table cell.
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
