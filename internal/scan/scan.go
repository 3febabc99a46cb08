// Package scan reads an image's layers safely and lists what is installed in
// them, as an inventory.Inventory for vulnerability matching.
//
// Inspect streams each layer once, in order: it checks the compressed bytes
// against the layer digest, checks that the compression is the one the media
// type declares, and walks the tar entries into a virtual tree with the OCI
// whiteout rules applied (".wh.NAME" hides NAME, ".wh..wh..opq" hides what
// lower layers put in its directory). Only files an extractor asks for are
// kept, and nothing is ever written to the host under a name from the layer.
// The extractors come from osv-scalibr: dpkg, apk, rpm, Go build info, npm
// package.json, Python dist-info/egg-info, Java archives, installed Ruby
// gemspecs and Rust binaries built with cargo-auditable. Each component
// names the layer that last wrote its file and the file's path.
//
// The inventory also lists the sha256 of every non-empty regular file of
// every layer, including files a later layer hides or replaces: their bytes
// still reach every client that pulls the image.
//
// An image that is hostile or broken (paths leaving the root, decompression
// bombs, a digest or compression that does not match, truncated streams,
// too many entries) makes Inspect return an *Error, which matches
// ErrInspectionFailed, so the firewall can give the verdict "inspection
// failed". Every limit is in Options; the zero Options uses the documented
// defaults. Inspect is safe for concurrent use on different images; its
// memory does not grow with layer size, only with the entries (bounded by
// Options.MaxEntries and MaxNameBytes: about 300 bytes each plus the name,
// with the file list) and the components found.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/inventory"
	"breakwater/internal/oci"
)

// ErrInspectionFailed is matched by every error that says the image itself
// is hostile or broken, as opposed to a failure to read it (a store error
// or a cancelled context), which is worth a retry.
var ErrInspectionFailed = errors.New("inspection failed")

// Error says why an image failed inspection. Reason is a short phrase fit
// for a verdict; Layer and Path locate it where known.
type Error struct {
	Layer  digest.Digest
	Path   string
	Reason string
}

func (e *Error) Error() string {
	msg := "inspection failed: " + e.Reason
	if e.Path != "" {
		msg += fmt.Sprintf(" (path %q)", e.Path)
	}
	if e.Layer != "" {
		msg += " in layer " + e.Layer.String()
	}
	return msg
}

// Is makes errors.Is(err, ErrInspectionFailed) true for every *Error.
func (e *Error) Is(target error) bool { return target == ErrInspectionFailed }

// Layer is one layer of an image as its manifest describes it.
type Layer struct {
	Digest    digest.Digest
	MediaType string
	// Size is the compressed size from the manifest; it is checked when
	// positive.
	Size int64
	// Open returns the compressed bytes. Inspect calls it once and closes
	// what it returns.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Layers describes a manifest's layers for Inspect, all opened through
// open, which is typically the blob store's reader for a digest.
func Layers(descs []oci.Descriptor, open func(context.Context, digest.Digest) (io.ReadCloser, error)) []Layer {
	layers := make([]Layer, len(descs))
	for i, d := range descs {
		layers[i] = Layer{
			Digest:    d.Digest,
			MediaType: d.MediaType,
			Size:      d.Size,
			Open:      func(ctx context.Context) (io.ReadCloser, error) { return open(ctx, d.Digest) },
		}
	}
	return layers
}

// Options bounds an inspection. A zero field takes the default named in its
// comment.
type Options struct {
	// TempDir is where files handed to extractors are spooled, under a
	// fresh directory removed when Inspect returns. Default os.TempDir().
	TempDir string

	// MaxImageBytes caps the uncompressed tar bytes of all layers, and
	// separately the file content read (sparse files expand). Default 16 GiB.
	MaxImageBytes int64
	// MaxFileBytes caps the size of one file. Default 4 GiB.
	MaxFileBytes int64
	// MaxRatio caps uncompressed/compressed bytes of a layer once it is past
	// 64 MiB uncompressed, to stop bombs early: real layers compress a few
	// times, gzip's own ceiling is about 1032. Default 250.
	MaxRatio int64
	// MaxEntries caps the tar entries of all layers together; the virtual
	// tree and the file list cost about 300 bytes of memory per entry.
	// Default 1,000,000.
	MaxEntries int
	// MaxFiles caps the regular files whose digest is recorded. Past it the
	// inspection fails rather than leaving files unchecked. Default 250,000.
	MaxFiles int
	// MaxPathBytes caps the length of an entry name or link target
	// (Linux's PATH_MAX); a name's components are capped at 255 bytes as
	// NAME_MAX. Default 4096.
	MaxPathBytes int
	// MaxNameBytes caps the entry names of all layers together, which the
	// tree and the file list keep in memory. Default 256 MiB.
	MaxNameBytes int64
	// MaxSpoolBytes caps the bytes kept on disk at once for extractors
	// (package databases, os-release, the file being extracted).
	// Default 2 GiB.
	MaxSpoolBytes int64
	// MaxExtractFileBytes is the largest file handed to an extractor that
	// reads from disk (Go binaries, Java archives, rpm databases); formats
	// parsed in memory have lower caps (64 MiB for dpkg and apk databases,
	// 8 MiB for package.json and Python metadata). A package database over
	// its cap fails the inspection, since skipping it would hide every
	// package in it; other files over their cap are skipped. Default 512 MiB.
	MaxExtractFileBytes int64

	// Logger receives debug detail about skipped files and extractor
	// errors; nil discards.
	Logger *slog.Logger
}

// Defaults, documented on Options.
const (
	defaultMaxImageBytes       = 16 << 30
	defaultMaxFileBytes        = 4 << 30
	defaultMaxRatio            = 250
	defaultMaxEntries          = 1_000_000
	defaultMaxFiles            = 250_000
	defaultMaxPathBytes        = 4096
	defaultMaxNameBytes        = 256 << 20
	defaultMaxSpoolBytes       = 2 << 30
	defaultMaxExtractFileBytes = 512 << 20

	// ratioFloor is how much a layer may expand before the ratio check
	// applies, so small layers of zeros or text are not called bombs.
	ratioFloor = 64 << 20
)

func (o Options) withDefaults() Options {
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.MaxImageBytes <= 0 {
		o.MaxImageBytes = defaultMaxImageBytes
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = defaultMaxFileBytes
	}
	if o.MaxRatio <= 0 {
		o.MaxRatio = defaultMaxRatio
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = defaultMaxEntries
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = defaultMaxFiles
	}
	if o.MaxPathBytes <= 0 {
		o.MaxPathBytes = defaultMaxPathBytes
	}
	if o.MaxNameBytes <= 0 {
		o.MaxNameBytes = defaultMaxNameBytes
	}
	if o.MaxSpoolBytes <= 0 {
		o.MaxSpoolBytes = defaultMaxSpoolBytes
	}
	if o.MaxExtractFileBytes <= 0 {
		o.MaxExtractFileBytes = defaultMaxExtractFileBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Inspect reads layers in order, bottom first, and returns what they
// install. Errors matching ErrInspectionFailed mean the image is hostile or
// broken; others (opening a layer, ctx) mean it could not be read.
func Inspect(ctx context.Context, layers []Layer, opts Options) (*inventory.Inventory, error) {
	opts = opts.withDefaults()
	dir, err := os.MkdirTemp(opts.TempDir, "scan-")
	if err != nil {
		return nil, fmt.Errorf("create scan spool: %w", err)
	}
	defer os.RemoveAll(dir)

	in := newInspection(ctx, opts, dir, layers)
	for i, l := range layers {
		if err := in.readLayer(ctx, i, l); err != nil {
			return nil, err
		}
	}
	return in.finish()
}
