package upstream

import "strings"

// challenge is a parsed WWW-Authenticate challenge.
type challenge struct {
	scheme string // "bearer" or "basic"
	params map[string]string
}

// parseChallenges picks the challenge to answer from WWW-Authenticate
// values, preferring Bearer over Basic.
func parseChallenges(values []string) (*challenge, bool) {
	var basic *challenge
	for _, v := range values {
		ch := parseChallenge(v)
		switch {
		case ch == nil:
		case ch.scheme == "bearer" && ch.params["realm"] != "":
			return ch, true
		case ch.scheme == "basic":
			basic = ch
		}
	}
	return basic, basic != nil
}

// parseChallenge reads one challenge: a scheme, then comma separated
// key=value or key="quoted value" parameters (RFC 9110 section 11.6.1).
func parseChallenge(v string) *challenge {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	if scheme == "" {
		return nil
	}
	ch := &challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
	for {
		rest = strings.TrimLeft(rest, " ,")
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			return ch
		}
		key = strings.ToLower(strings.TrimSpace(key))
		var val string
		val, rest = parseValue(strings.TrimLeft(after, " "))
		ch.params[key] = val
	}
}

// parseValue reads a token or a quoted string with backslash escapes and
// returns it and the remaining input.
func parseValue(s string) (string, string) {
	if !strings.HasPrefix(s, `"`) {
		val, rest, _ := strings.Cut(s, ",")
		return strings.TrimSpace(val), rest
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}
