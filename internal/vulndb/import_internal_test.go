package vulndb

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadLimits refuses files that expand past maxFileBytes, whatever
// their container claims.
func TestReadLimits(t *testing.T) {
	defer func(n int64) { maxFileBytes = n }(maxFileBytes)
	maxFileBytes = 1 << 10
	big := bytes.Repeat([]byte{' '}, 1<<20)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(big)
	zw.Close()

	var zbuf bytes.Buffer
	w := zip.NewWriter(&zbuf)
	f, _ := w.Create("huge.json")
	f.Write(big)
	w.Close()

	tests := []struct {
		name string
		data []byte
	}{
		{"plain", big},
		{"gzip bomb", gz.Bytes()},
		{"zip entry", zbuf.Bytes()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "feed")
			if err := os.WriteFile(p, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			b := &batch{ctx: context.Background()}
			err := b.readPath(context.Background(), p)
			if err == nil || !strings.Contains(err.Error(), "larger than") {
				t.Errorf("read = %v, want a size error", err)
			}
		})
	}
}
