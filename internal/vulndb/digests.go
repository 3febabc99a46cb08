package vulndb

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Known-bad file digest lists are plain UTF-8 text, one entry a line:
//
//	# comment lines and blank lines are ignored
//	sha256:<64 lower-case hex> <reason, free text up to the line's end>
//
// The reason names what the file is (a malware family, an advisory id) and
// ends up in the finding's summary. Only sha256 is accepted, since that is
// the digest inspection takes of every regular file. A file is recognised
// as such a list when its first entry line has this shape; any later line
// that does not is an error, so a typo cannot silently drop an entry.

var badFileLine = regexp.MustCompile(`^sha256:[0-9a-f]{64}(\s|$)`)

// looksLikeDigestList reports whether data's first entry line is one.
func looksLikeDigestList(data []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		return badFileLine.MatchString(line)
	}
	return false
}

// parseDigestList reads a known-bad digest list.
func parseDigestList(data []byte) ([]BadFile, error) {
	var out []BadFile
	sc := bufio.NewScanner(bytes.NewReader(data))
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !badFileLine.MatchString(line) {
			return nil, fmt.Errorf("read digest list line %d: want sha256:<hex> <reason>", ln)
		}
		n := len("sha256:") + 64
		out = append(out, BadFile{Digest: line[:n], Reason: strings.TrimSpace(line[n:])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read digest list: %w", err)
	}
	return out, nil
}
