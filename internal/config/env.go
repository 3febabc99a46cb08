package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// EnvPrefix starts every environment variable breakwater reads.
const EnvPrefix = "BREAKWATER_"

// The short forms for the default upstream, which is all most deployments
// have; BREAKWATER_UPSTREAMS_<NAME>_<KEY> reaches any upstream by name.
const (
	envDefaultUpstream = EnvPrefix + "UPSTREAM"
	envUpstreamsPrefix = EnvPrefix + "UPSTREAMS_"
)

// upstreamEnvKeys are the upstream keys the environment may set. Name,
// default and aliases stay in the file: they shape routing, and changing
// them from the environment would make a file misleading.
var upstreamEnvKeys = []string{"url", "docker_hub", "username", "password", "password_file", "search_url", "timeout", "retries"}

// defaultUpstreamEnvKeys are the keys of the short forms; the bare
// BREAKWATER_UPSTREAM is the url.
var defaultUpstreamEnvKeys = []string{"username", "password", "password_file"}

// envVars lists the variables that override top-level scalar keys, each
// with the key it sets, in the order of the Config struct.
func envVars() [][2]string {
	var out [][2]string
	walkScalars(reflect.ValueOf(Default()), "", func(path string, _ reflect.Value) {
		out = append(out, [2]string{envName(path), path})
	})
	return out
}

// applyEnv lays the BREAKWATER_* variables of environ over c.
func applyEnv(c *Config, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && v != "" && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}

	// Top-level scalars: BREAKWATER_LISTEN, BREAKWATER_LOG_LEVEL, ...
	var err error
	walkScalars(reflect.ValueOf(c).Elem(), "", func(path string, f reflect.Value) {
		s, ok := env[envName(path)]
		if !ok || err != nil {
			return
		}
		if e := setScalar(f, s); e != nil {
			err = fmt.Errorf("%s (%s): %w", envName(path), path, e)
		}
	})
	if err != nil {
		return err
	}

	// Named upstreams, then the short forms for the default one, so the
	// short forms win when both name the same key.
	if err := checkShortForms(env); err != nil {
		return err
	}
	if err := applyNamedUpstreamEnv(c, env); err != nil {
		return err
	}
	if u := c.DefaultUpstream(); u != nil {
		vals := map[string]string{}
		if s, ok := env[envDefaultUpstream]; ok {
			vals["url"] = s
		}
		for _, k := range defaultUpstreamEnvKeys {
			if s, ok := env[envName("upstream."+k)]; ok {
				vals[k] = s
			}
		}
		return setUpstream(u, vals, func(k string) string {
			if k == "url" {
				return envDefaultUpstream
			}
			return envName("upstream." + k)
		})
	}
	return nil
}

// checkShortForms refuses BREAKWATER_UPSTREAM_<KEY> for a key that has no
// short form, such as BREAKWATER_UPSTREAM_RETRIES, which would otherwise be
// ignored without a word.
func checkShortForms(env map[string]string) error {
	for k := range env {
		if !strings.HasPrefix(k, envDefaultUpstream+"_") || strings.HasPrefix(k, envUpstreamsPrefix) {
			continue
		}
		known := false
		for _, key := range defaultUpstreamEnvKeys {
			known = known || k == envName("upstream."+key)
		}
		if !known {
			return fmt.Errorf("%s: not a setting; the default upstream's short forms are %s, %s_USERNAME, %s_PASSWORD and %s_PASSWORD_FILE, other keys are %s<NAME>_<KEY>",
				k, envDefaultUpstream, envDefaultUpstream, envDefaultUpstream, envDefaultUpstream, envUpstreamsPrefix)
		}
	}
	return nil
}

// applyNamedUpstreamEnv applies BREAKWATER_UPSTREAMS_<NAME>_<KEY>. A
// variable that names no configured upstream or no key is an error: it is
// almost certainly a typo that would otherwise go unnoticed.
func applyNamedUpstreamEnv(c *Config, env map[string]string) error {
	vals := make([]map[string]string, len(c.Upstreams))
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !strings.HasPrefix(k, envUpstreamsPrefix) {
			continue
		}
		i, key, ok := matchUpstreamEnv(c, k)
		if !ok {
			return fmt.Errorf("%s: names no configured upstream and key (want %s<NAME>_<KEY>, KEY one of %s)",
				k, envUpstreamsPrefix, strings.ToUpper(strings.Join(upstreamEnvKeys, ", ")))
		}
		if vals[i] == nil {
			vals[i] = map[string]string{}
		}
		vals[i][key] = env[k]
	}
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		err := setUpstream(u, vals[i], func(k string) string { return upstreamEnvName(u.Name, k) })
		if err != nil {
			return err
		}
	}
	return nil
}

// matchUpstreamEnv finds the upstream and key variable k names. Both names
// and keys may contain "_", so every upstream is tried.
func matchUpstreamEnv(c *Config, k string) (int, string, bool) {
	for i, u := range c.Upstreams {
		for _, key := range upstreamEnvKeys {
			if k == upstreamEnvName(u.Name, key) {
				return i, key, true
			}
		}
	}
	return 0, "", false
}

// setUpstream sets u's keys from vals. A password from a later layer
// replaces a password_file from an earlier one and the other way round;
// setting both in the same layer is left for Validate to refuse.
func setUpstream(u *Upstream, vals map[string]string, varName func(key string) string) error {
	_, pw := vals["password"]
	_, pwFile := vals["password_file"]
	if pw && !pwFile {
		u.PasswordFile = ""
	}
	if pwFile && !pw {
		u.Password = ""
	}
	if s, ok := vals["url"]; ok {
		if _, search := vals["search_url"]; !search {
			u.moveTo(s)
		}
	}
	for _, key := range upstreamEnvKeys {
		s, ok := vals[key]
		if !ok {
			continue
		}
		f, _ := fieldByKey(reflect.ValueOf(u).Elem(), key)
		if err := setScalar(f, s); err != nil {
			return fmt.Errorf("%s: %w", varName(key), err)
		}
	}
	return nil
}

// upstreamEnvName is BREAKWATER_UPSTREAMS_<NAME>_<KEY> with NAME upper-cased
// and every character that is not a letter or digit written as "_".
func upstreamEnvName(name, key string) string {
	n := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
	return envUpstreamsPrefix + strings.ToUpper(n) + "_" + strings.ToUpper(key)
}

// envName turns a key path such as cache.tag_max_age into
// BREAKWATER_CACHE_TAG_MAX_AGE.
func envName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// walkScalars calls fn for every scalar field of struct v outside lists,
// depth first in field order.
func walkScalars(v reflect.Value, path string, fn func(path string, f reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, p := v.Field(i), join(path, yamlKey(t.Field(i)))
		if isInline(t.Field(i)) {
			p = path
		}
		switch f.Kind() {
		case reflect.Struct:
			walkScalars(f, p, fn)
		case reflect.Slice:
			// lists have their own variables, if any
		default:
			fn(p, f)
		}
	}
}
