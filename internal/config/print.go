package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Mask replaces a secret that is set, in Redacted copies.
const Mask = "REDACTED"

// Redacted returns a deep copy of c with every password masked, for
// printing. An empty password stays empty, so a reader can tell whether
// one is set.
func (c Config) Redacted() Config {
	r := c
	r.Upstreams = make([]Upstream, len(c.Upstreams))
	for i, u := range c.Upstreams {
		u.Aliases = append([]string(nil), u.Aliases...)
		if u.Password != "" {
			u.Password = Mask
		}
		r.Upstreams[i] = u
	}
	return r
}

// YAML returns the redacted configuration as a YAML document that Load
// reads back (with the passwords masked).
func (c Config) YAML() ([]byte, error) {
	var doc yaml.Node
	if err := doc.Encode(c.Redacted()); err != nil {
		return nil, fmt.Errorf("marshal config: %w", err)
	}
	if len(doc.Content) > 0 {
		dropUnsetConditions(&doc)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("marshal config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal config: %w", err)
	}
	return b.Bytes(), nil
}

// dropUnsetConditions removes the conditions a policy leaves unset from
// the mapping node doc, so each printed policy shows its tests and not a
// dozen zero values. An unset condition is no test, so the file still
// loads back the same.
func dropUnsetConditions(doc *yaml.Node) {
	policies := valueOf(doc, "policies")
	if policies == nil {
		return
	}
	for _, p := range policies.Content {
		cond := valueOf(p, "conditions")
		if cond == nil {
			continue
		}
		kept := cond.Content[:0]
		for i := 0; i+1 < len(cond.Content); i += 2 {
			if !isZeroNode(cond.Content[i+1]) {
				kept = append(kept, cond.Content[i], cond.Content[i+1])
			}
		}
		cond.Content = kept
	}
}

// valueOf returns the value of key in mapping node m, or nil.
func valueOf(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func isZeroNode(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.SequenceNode, yaml.MappingNode:
		return len(n.Content) == 0
	case yaml.ScalarNode:
		return n.Value == "" || n.Value == "0" || n.Value == "false"
	}
	return false
}

// Setting is one key path and its value as text.
type Setting struct {
	Key   string
	Value string
}

// Changed returns the settings of c that differ from Default, with secrets
// masked, in the order of the Config struct: what the start-up log shows.
// Upstreams are compared by position, so a renamed or added upstream
// shows all its keys.
func (c Config) Changed() []Setting {
	def := flatten(Default().Redacted())
	was := map[string]string{}
	for _, s := range def {
		was[s.Key] = s.Value
	}
	var out []Setting
	for _, s := range flatten(c.Redacted()) {
		v, ok := was[s.Key]
		switch {
		case !ok && isZeroText(s.Value):
			// a key the defaults lack, left unset: a policy's unused
			// conditions would otherwise fill the start-up log
		case !ok || v != s.Value:
			out = append(out, s)
		}
	}
	return out
}

// isZeroText reports whether a flattened value is its type's zero value.
func isZeroText(s string) bool {
	return s == "" || s == "0" || s == "false" || s == "0s"
}

// flatten lists every leaf of c as key path and text, upstreams as
// upstreams[i].key.
func flatten(c Config) []Setting {
	var out []Setting
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch {
		case v.Kind() == reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				f := v.Type().Field(i)
				if isInline(f) {
					walk(v.Field(i), path)
					continue
				}
				walk(v.Field(i), join(path, yamlKey(f)))
			}
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
			}
		case v.Kind() == reflect.Slice:
			s := make([]string, v.Len())
			for i := range s {
				s[i] = fmt.Sprint(v.Index(i).Interface())
			}
			out = append(out, Setting{path, strings.Join(s, ",")})
		default:
			out = append(out, Setting{path, fmt.Sprint(v.Interface())})
		}
	}
	walk(reflect.ValueOf(c), "")
	return out
}
