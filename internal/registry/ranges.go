package registry

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"breakwater/internal/oci"
)

// byteRange is a satisfiable slice of a blob.
type byteRange struct {
	start, length int64
}

// requestedRanges returns the ranges a request asks of a blob of size bytes
// and tagged etag: none without a Range header, when an If-Range names
// something else (the client then wants the whole blob), or when the
// header is not a valid bytes range, which RFC 9110 (section 14.2) lets a
// server ignore and requires it to for other units; and ErrRangeInvalid
// when no range overlaps the blob. Warm and cold blobs decide alike.
func requestedRanges(r *http.Request, etag string, size int64) ([]byteRange, error) {
	h := r.Header.Get("Range")
	if h == "" {
		return nil, nil
	}
	if ir := r.Header.Get("If-Range"); ir != "" && ir != etag {
		return nil, nil
	}
	specs, ok := parseRange(h)
	if !ok {
		return nil, nil
	}
	return satisfiable(h, specs, size)
}

// rangeSpec is one range-spec: first-last, or first- with last < 0, or
// the suffix -last with first < 0.
type rangeSpec struct {
	first, last int64
}

// parseRange reads a bytes Range header (RFC 9110, section 14.1.2) and
// reports false unless every range-spec in it is valid.
func parseRange(h string) ([]rangeSpec, bool) {
	set, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return nil, false
	}
	var specs []rangeSpec
	for part := range strings.SplitSeq(set, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue // the list syntax allows empty elements
		}
		first, last, ok := strings.Cut(part, "-")
		if !ok {
			return nil, false
		}
		spec := rangeSpec{first: -1, last: -1}
		var okFirst, okLast bool
		spec.first, okFirst = parsePos(strings.TrimSpace(first))
		spec.last, okLast = parsePos(strings.TrimSpace(last))
		if !okFirst || !okLast || spec.first < 0 && spec.last < 0 {
			return nil, false
		}
		if spec.first >= 0 && spec.last >= 0 && spec.last < spec.first {
			return nil, false
		}
		specs = append(specs, spec)
	}
	return specs, len(specs) > 0
}

// parsePos reads a decimal position: -1 for an empty string, false for
// anything but digits (no sign, no space) or a number too large.
func parsePos(s string) (int64, bool) {
	if s == "" {
		return -1, true
	}
	if strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// satisfiable returns the parts of specs that overlap a blob of size
// bytes, or ErrRangeInvalid (a 416) when none does.
func satisfiable(h string, specs []rangeSpec, size int64) ([]byteRange, error) {
	var ranges []byteRange
	for _, s := range specs {
		switch {
		case s.first < 0:
			// A suffix range -n asks for the last n bytes.
			n := min(s.last, size)
			if n == 0 {
				continue
			}
			ranges = append(ranges, byteRange{start: size - n, length: n})
		case s.first >= size:
			// Does not overlap the blob.
		default:
			end := size - 1
			if s.last >= 0 {
				end = min(s.last, end)
			}
			ranges = append(ranges, byteRange{start: s.first, length: end - s.first + 1})
		}
	}
	if len(ranges) == 0 {
		err := fmt.Errorf("range %q: no range overlaps the blob: %w", h, oci.ErrRangeInvalid)
		return nil, badRequest(err)
	}
	return ranges, nil
}
