package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decodeYAML parses b with yaml.v3 and lays the document over c. It walks
// the node tree itself rather than calling Decode, so that every error
// names its key path and line, unknown keys are refused at any depth
// (yaml.v3's KnownFields does not reach into custom unmarshalers), and an
// upstream's defaults apply only to the keys the file leaves out.
func decodeYAML(b []byte, c *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("parse yaml: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil // an empty file changes nothing
	}
	return decodeNode(doc.Content[0], reflect.ValueOf(c).Elem(), "")
}

// scalarSetter is implemented by structs that may also be written as one
// value, such as a Feed given by its URL alone.
type scalarSetter interface {
	setScalar(s string)
}

// defaultFiller is implemented by structs whose defaults depend on which
// keys a file set, such as Upstream.
type defaultFiller interface {
	fillDefaults(set map[string]bool)
}

func decodeNode(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	emptyList := n.Kind == yaml.SequenceNode && len(n.Content) == 0
	if v.Kind() == reflect.Slice && (n.Tag == "!!null" || emptyList) {
		v.SetZero() // "aliases:" or "aliases: []" means none
		return nil
	}
	if s, ok := v.Addr().Interface().(scalarSetter); ok && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		s.setScalar(n.Value)
		return nil
	}
	switch {
	case v.Kind() == reflect.Struct:
		return decodeMapping(n, v, path)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		return decodeList(n, v, path)
	case v.Kind() == reflect.Slice:
		return decodeStrings(n, v, path)
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s: must be a single value (line %d)", path, n.Line)
	}
	if n.Tag == "!!null" {
		v.SetZero()
		return nil
	}
	if err := setScalar(v, n.Value); err != nil {
		return fmt.Errorf("%s: %w (line %d)", path, err, n.Line)
	}
	return nil
}

func decodeMapping(n *yaml.Node, v reflect.Value, path string) error {
	if n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: must be a mapping of keys to values (line %d)", orTop(path), n.Line)
	}
	set := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		p := join(path, key.Value)
		f, ok := fieldByKey(v, key.Value)
		if !ok {
			return fmt.Errorf("%s: unknown key (line %d)", p, key.Line)
		}
		if set[key.Value] {
			return fmt.Errorf("%s: set twice (line %d)", p, key.Line)
		}
		set[key.Value] = true
		if err := decodeNode(val, f, p); err != nil {
			return err
		}
	}
	if d, ok := v.Addr().Interface().(defaultFiller); ok {
		d.fillDefaults(set)
	}
	return nil
}

// decodeList replaces the slice whole: a file's upstreams replace the
// default ones rather than adding to them.
func decodeList(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s: must be a list (line %d)", path, n.Line)
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, el := range n.Content {
		if err := decodeNode(el, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	v.Set(s)
	return nil
}

func decodeStrings(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s: must be a list (line %d)", path, n.Line)
	}
	s := make([]string, 0, len(n.Content))
	for i, el := range n.Content {
		if el.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s[%d]: must be a single value (line %d)", path, i, el.Line)
		}
		s = append(s, el.Value)
	}
	v.Set(reflect.ValueOf(s).Convert(v.Type()))
	return nil
}

// setScalar parses s into v by v's type; the environment uses it too, so
// a value reads the same from a file and from a variable.
func setScalar(v reflect.Value, s string) error {
	switch {
	case v.Type() == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 30s or 5m", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(i) {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(i)
	case v.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var list []string
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				list = append(list, f)
			}
		}
		v.Set(reflect.ValueOf(list).Convert(v.Type()))
	default:
		return fmt.Errorf("unsupported type %s", v.Type()) // a field type this file does not know yet
	}
	return nil
}

// fieldByKey returns the field of struct v whose yaml tag is key, looking
// into inline structs too.
func fieldByKey(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if isInline(t.Field(i)) {
			if f, ok := fieldByKey(v.Field(i), key); ok {
				return f, true
			}
			continue
		}
		if yamlKey(t.Field(i)) == key {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// isInline reports whether f's keys sit at the level of its parent's, as
// the firewall section holds policy.Firewall's keys.
func isInline(f reflect.StructField) bool {
	_, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return opts == "inline"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "config"
	}
	return path
}
