package policy

import (
	"errors"
	"path"
	"strings"
)

// globMatch reports whether the "/"-separated name matches pattern. Each
// segment matches with path.Match, so "*" stays within one segment as it
// does in a shell; a "**" segment matches any number of segments, including
// none. A malformed pattern matches nothing (Validate refuses it first).
func globMatch(pattern, name string) bool {
	var pat []string
	for _, seg := range strings.Split(pattern, "/") {
		// "**/**" means what "**" means; folding them keeps the
		// backtracking below from growing with each repeat.
		if seg == "**" && len(pat) > 0 && pat[len(pat)-1] == "**" {
			continue
		}
		pat = append(pat, seg)
	}
	return matchSegments(pat, strings.Split(name, "/"))
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			// Try every split point; names have few segments, so the
			// backtracking stays small.
			for i := 0; i <= len(name); i++ {
				if matchSegments(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], name[0]); err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// checkPattern returns why pattern cannot be used, or nil.
func checkPattern(pattern string) error {
	if pattern == "" {
		return errors.New("must not be empty")
	}
	for _, seg := range strings.Split(pattern, "/") {
		if seg == "" {
			return errors.New("must have no empty segment (no leading, trailing or double /)")
		}
		if _, err := path.Match(seg, ""); err != nil {
			return errors.New("is not a valid pattern (see path.Match)")
		}
	}
	return nil
}
