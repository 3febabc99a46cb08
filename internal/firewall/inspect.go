package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
	"breakwater/internal/scan"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// inspection returns what the image holds: stored from an earlier
// inspection of the same digest, or read now from its layers.
func (f *Firewall) inspection(
	ctx context.Context,
	repo cache.Repo,
	d digest.Digest,
	p manifestJSON,
) (inspection, error) {
	if b, err := f.st.Inventory(ctx, d); err == nil {
		return decodeInspection(b)
	} else if !errors.Is(err, store.ErrNotFound) {
		return inspection{}, err
	}

	r, err, _ := f.inspections.Do(d.String(), func() (any, error) {
		start := time.Now()
		in, err := f.inspect(ctx, repo, d, p)
		f.opts.Metrics.Inspection(inspectionResult(in, err), time.Since(start))
		if err != nil {
			return in, err
		}
		b, err := encodeInspection(in)
		if err != nil {
			return in, err
		}
		return in, f.st.PutInventory(ctx, d, b)
	})
	return r.(inspection), err
}

// inspect reads the config and layers through the cache, so they are
// fetched, verified and stored once, and lists the components.
func (f *Firewall) inspect(
	ctx context.Context,
	repo cache.Repo,
	d digest.Digest,
	p manifestJSON,
) (inspection, error) {
	if f.inspected != nil {
		f.inspected(d)
	}
	if p.Config == nil {
		return inspection{Error: "unsupported manifest: no config"}, nil
	}
	var in inspection
	cfg, err := f.readConfig(ctx, repo, *p.Config)
	if err != nil {
		return in, err
	}
	in.Created, in.Platform = cfg.created(), cfg.platform()

	open := func(ctx context.Context, ld digest.Digest) (io.ReadCloser, error) {
		b, err := f.opts.Cache.Blob(ctx, repo, ld)
		if err != nil {
			return nil, err
		}
		if b.File != nil {
			return b.File, nil
		}
		return b.Stream, nil
	}
	inv, err := scan.Inspect(ctx, scan.Layers(p.Layers, open), f.opts.Scan)
	switch {
	case errors.Is(err, scan.ErrInspectionFailed):
		in.Error = err.Error()
	case err != nil:
		return in, fmt.Errorf("inspect %s: %w", d, err)
	default:
		in.Inventory = inv
	}
	return in, nil
}

// maxConfigSize bounds an image config read into memory.
const maxConfigSize = 8 << 20

// imageConfig is the part of an image config the firewall reads.
type imageConfig struct {
	Created      string `json:"created"`
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
}

func (c imageConfig) created() time.Time {
	t, err := time.Parse(time.RFC3339Nano, c.Created)
	if err != nil {
		return time.Time{}
	}
	return t
}

func (c imageConfig) platform() string {
	if c.OS == "" && c.Architecture == "" {
		return ""
	}
	p := c.OS + "/" + c.Architecture
	if c.Variant != "" {
		p += "/" + c.Variant
	}
	return p
}

// readConfig fetches an image config through the cache. A config that is
// not JSON leaves its fields unknown; the layers still decide.
func (f *Firewall) readConfig(ctx context.Context, repo cache.Repo, desc oci.Descriptor) (imageConfig, error) {
	var cfg imageConfig
	b, err := f.opts.Cache.Blob(ctx, repo, desc.Digest)
	if err != nil {
		return cfg, fmt.Errorf("fetch config %s: %w", desc.Digest, err)
	}
	defer b.Close()
	r := io.Reader(b.Stream)
	if b.File != nil {
		r = b.File
	}
	body, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return cfg, fmt.Errorf("read config %s: %w", desc.Digest, err)
	}
	if len(body) > maxConfigSize || digest.FromBytes(body) != desc.Digest {
		return cfg, fmt.Errorf("read config %s: too large or digest mismatch: %w", desc.Digest, oci.ErrDigestInvalid)
	}
	json.Unmarshal(body, &cfg)
	return cfg, nil
}

// inspectionResult names how an inspection ended, for its metric.
func inspectionResult(in inspection, err error) string {
	switch {
	case err != nil:
		return telemetry.InspectionError
	case in.Error != "":
		return telemetry.InspectionFailed
	}
	return telemetry.InspectionOK
}
