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
// and tagged etag: none without a Range header or when an If-Range names
// something else (the client then wants the whole blob), and
// ErrRangeInvalid when the header is malformed or no range overlaps the
// blob, as net/http would decide, so warm and cold blobs answer alike.
func requestedRanges(r *http.Request, etag string, size int64) ([]byteRange, error) {
	h := r.Header.Get("Range")
	if h == "" {
		return nil, nil
	}
	if ir := r.Header.Get("If-Range"); ir != "" && ir != etag {
		return nil, nil
	}
	return parseRange(h, size)
}

// parseRange reads a bytes Range header (RFC 9110, section 14.1.2).
func parseRange(h string, size int64) ([]byteRange, error) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return nil, rangeError(h, "unit is not bytes")
	}

	var ranges []byteRange
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		first, last, ok := strings.Cut(part, "-")
		if !ok {
			return nil, rangeError(h, "no dash")
		}
		first, last = strings.TrimSpace(first), strings.TrimSpace(last)

		// A suffix range "-n" asks for the last n bytes.
		if first == "" {
			n, err := strconv.ParseInt(last, 10, 64)
			if err != nil || n < 0 {
				return nil, rangeError(h, "bad suffix length")
			}
			if n == 0 || size == 0 {
				continue
			}
			n = min(n, size)
			ranges = append(ranges, byteRange{start: size - n, length: n})
			continue
		}

		start, err := strconv.ParseInt(first, 10, 64)
		if err != nil || start < 0 {
			return nil, rangeError(h, "bad start")
		}
		end := size - 1
		if last != "" {
			end, err = strconv.ParseInt(last, 10, 64)
			if err != nil || end < start {
				return nil, rangeError(h, "bad end")
			}
			end = min(end, size-1)
		}
		if start >= size {
			continue // does not overlap the blob
		}
		ranges = append(ranges, byteRange{start: start, length: end - start + 1})
	}
	if len(ranges) == 0 {
		return nil, rangeError(h, "no range overlaps the blob")
	}
	return ranges, nil
}

func rangeError(h, why string) error {
	return badRequest(fmt.Errorf("range %q: %s: %w", h, why, oci.ErrRangeInvalid))
}
