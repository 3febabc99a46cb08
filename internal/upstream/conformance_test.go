package upstream_test

import (
	"testing"
	"time"

	"breakwater/internal/upstream"
	"breakwater/internal/upstream/upstreamtest"
)

func TestConformance(t *testing.T) {
	upstreamtest.Run(t, func(t *testing.T, cfg upstreamtest.Config) upstreamtest.Client {
		c, err := upstream.New(upstream.Options{
			Name:     "test",
			URL:      cfg.URL,
			Username: cfg.Username,
			Password: cfg.Password,
			Timeout:  10 * time.Second,
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return c
	})
}
