package cache

import (
	"log/slog"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestTouchDebounced(t *testing.T) {
	_, meta := newStores(t)
	ctx := testContext(t)
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	start := clk.Now()
	tr := newToucher(meta, clk.Now, slog.New(slog.DiscardHandler))
	d := digest.FromString("blob")

	steps := []struct {
		name    string
		advance time.Duration
		want    time.Time
	}{
		{"first serve records", 0, start},
		{"within the interval skips the write", touchInterval / 2, start},
		{"past the interval records", touchInterval, start.Add(touchInterval * 3 / 2)},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		tr.touch(ctx, d)
		got, err := meta.LastAccess(ctx, d)
		if err != nil || !got.Equal(s.want) {
			t.Errorf("%s: LastAccess got %v, %v; want %v", s.name, got, err, s.want)
		}
	}
}
