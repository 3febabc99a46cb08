package vulndb

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"breakwater/internal/telemetry"
)

// maxFileBytes bounds one file (or zip entry, or gunzipped file) read
// into memory. The largest real inputs, the Debian tracker's JSON export
// and NVD's yearly feeds, are well below it. A variable for tests.
var maxFileBytes int64 = 512 << 20

// maxReportedUnknown bounds the unknown file names a Report lists.
const maxReportedUnknown = 20

// Report says what an import read.
type Report struct {
	Source  string         `json:"source"`
	Files   int            `json:"files"`
	Records int            `json:"records"`
	Counts  map[string]int `json:"counts"`
	// Unknown counts files whose format was not recognised; UnknownFiles
	// names the first of them.
	Unknown      int      `json:"unknown"`
	UnknownFiles []string `json:"unknown_files,omitempty"`
}

// ImportOption changes how Import fetches a URL.
type ImportOption func(*importConfig)

type importConfig struct {
	client      *http.Client
	maxDownload int64
	source      string
	since       time.Time
	now         func() time.Time
}

// WithIfModifiedSince fetches a URL only if the server says it changed
// after t (a Source's Modified); otherwise Import returns ErrNotModified
// and leaves the source as it was. Local paths are always read.
func WithIfModifiedSince(t time.Time) ImportOption {
	return func(ic *importConfig) { ic.since = t }
}

// withClock records imports at the times now gives, so a Refresher's
// clock and the ages it compares agree.
func withClock(now func() time.Time) ImportOption {
	return func(ic *importConfig) { ic.now = now }
}

// WithHTTPClient fetches URLs with c instead of a client with a 10 minute
// overall timeout.
func WithHTTPClient(c *http.Client) ImportOption {
	return func(ic *importConfig) { ic.client = c }
}

// WithMaxDownload bounds a downloaded file to n bytes (default 2 GiB).
func WithMaxDownload(n int64) ImportOption {
	return func(ic *importConfig) { ic.maxDownload = n }
}

// WithSource names the source instead of the path or URL, so one feed
// keeps its name when its location changes.
func WithSource(name string) ImportOption {
	return func(ic *importConfig) { ic.source = name }
}

// Import reads path (a file, a zip, a folder tree, or an http(s) URL of a
// file or zip) and replaces the records of its source with what it holds.
// Files of unknown format are counted in the Report, not fatal; a
// recognised file that does not parse fails the import, so a truncated
// feed never replaces a good one.
func Import(ctx context.Context, db *DB, path string, opts ...ImportOption) (Report, error) {
	cfg := importConfig{maxDownload: 2 << 30, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	source := cfg.source
	if source == "" {
		source = sourceName(path)
	}
	b := &batch{ctx: ctx, report: Report{Source: source}}

	local := path
	var modified time.Time
	if isURL(path) {
		f, err := download(ctx, cfg.client, path, cfg.maxDownload, cfg.since)
		if err != nil {
			return Report{}, err
		}
		defer os.Remove(f.path)
		local, modified = f.path, f.modified
	}
	if err := b.readPath(ctx, local); err != nil {
		return Report{}, fmt.Errorf("import %s: %w", source, err)
	}

	recs, files := b.finish()
	src := Source{
		Name:       source,
		ImportedAt: cfg.now().UTC(),
		Modified:   modified,
		Counts:     b.report.Counts,
		Unknown:    b.report.Unknown,
	}
	if err := db.store.Replace(ctx, src, recs, files); err != nil {
		return Report{}, fmt.Errorf("import %s: %w", source, err)
	}
	db.log.Info("vulnerability data imported", telemetry.KeySource, source,
		telemetry.KeyRecords, b.report.Records, telemetry.KeyUnknown, b.report.Unknown)
	return b.report, nil
}

// sourceName names a local source by its absolute path and a URL without
// credentials or query, which may hold tokens.
func sourceName(path string) string {
	if isURL(path) {
		u, err := url.Parse(path)
		if err != nil {
			return "unparsable URL" // never echo what might hold a secret
		}
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		return u.String()
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

func isURL(path string) bool {
	return strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://")
}

// batch collects what the files of one import hold.
//
// TODO: a whole source is held in memory until its transaction, which for
// osv.dev's all-ecosystems zip means gigabytes; streaming records into the
// transaction needs the Debian lists resolved in a second pass.
type batch struct {
	ctx     context.Context
	report  Report
	records map[string]*Record
	order   []string
	nvd     map[string]bool
	files   []BadFile
	lists   trackerLists
}

// readPath reads a file or walks a folder tree. Folders starting with "."
// (a git checkout's .git) are skipped, and symbolic links are not followed.
func (b *batch) readPath(ctx context.Context, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return b.readFile(path, path)
	}
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(path, p)
		return b.readFile(p, filepath.ToSlash(rel))
	})
}

// readFile reads one file, opening it as a zip or gzip if it is one. A
// zip is read entry by entry from disk, since osv.dev's all.zip can be far
// larger than any one record; a gzip (NVD's yearly feeds) is one file.
func (b *batch) readFile(path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	magic = magic[:n]
	if bytes.Equal(magic, []byte("PK\x03\x04")) {
		info, err := f.Stat()
		if err != nil {
			return err
		}
		return b.readZip(f, info.Size(), name)
	}
	r := io.MultiReader(bytes.NewReader(magic), f)
	if bytes.HasPrefix(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("open gzip %s: %w", name, err)
		}
		defer zr.Close()
		r = zr
	}
	data, err := readLimited(r, name)
	if err != nil {
		return err
	}
	return b.add(name, data)
}

// readZip reads every file of a zip (osv.dev's all.zip holds one OSV
// record per entry). Zips inside zips are not opened.
func (b *batch) readZip(r io.ReaderAt, size int64, name string) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("open zip %s: %w", name, err)
	}
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() {
			continue
		}
		entry := name + "!" + zf.Name
		if zf.UncompressedSize64 > uint64(maxFileBytes) {
			return fmt.Errorf("read %s: larger than %d bytes", entry, maxFileBytes)
		}
		rc, err := zf.Open()
		if err != nil {
			return fmt.Errorf("open %s: %w", entry, err)
		}
		data, err := readLimited(rc, entry)
		rc.Close()
		if err != nil {
			return err
		}
		if err := b.add(entry, data); err != nil {
			return err
		}
	}
	return nil
}

// readLimited reads r whole, refusing more than maxFileBytes, since a
// zip's declared sizes can lie.
func readLimited(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > maxFileBytes {
		return nil, fmt.Errorf("read %s: larger than %d bytes", name, maxFileBytes)
	}
	return data, nil
}

// add parses one file by its recognised format.
func (b *batch) add(name string, data []byte) error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	b.report.Files++
	var (
		recs []Record
		err  error
	)
	switch detect(data) {
	case formatOSV:
		var r Record
		r, err = parseOSV(data)
		recs = []Record{r}
	case formatOSVYAML:
		var js []byte
		if js, err = yamlToJSON(data); err == nil {
			var r Record
			r, err = parseOSV(js)
			recs = []Record{r}
		}
	case formatNVD:
		recs, err = parseNVD(data)
		for _, r := range recs {
			if b.nvd == nil {
				b.nvd = map[string]bool{}
			}
			b.nvd[r.ID] = true
		}
	case formatTrackerExport:
		recs, err = parseTrackerExport(data)
	case formatTrackerList:
		err = b.lists.add(data)
	case formatSecdb:
		recs, err = parseSecdb(data)
	case formatDigests:
		var files []BadFile
		files, err = parseDigestList(data)
		b.files = append(b.files, files...)
	default:
		b.report.Unknown++
		if len(b.report.UnknownFiles) < maxReportedUnknown {
			b.report.UnknownFiles = append(b.report.UnknownFiles, name)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("parse %s: %w", name, err)
	}
	for _, r := range recs {
		b.merge(r)
	}
	return nil
}

// merge adds r, joining it with an earlier record of the same id: the
// Debian and Alpine feeds spread one CVE over several packages.
func (b *batch) merge(r Record) {
	if b.records == nil {
		b.records = map[string]*Record{}
	}
	old, ok := b.records[r.ID]
	if !ok {
		b.records[r.ID] = &r
		b.order = append(b.order, r.ID)
		return
	}
	old.Aliases = appendNew(old.Aliases, r.Aliases...)
	old.Affected = append(old.Affected, r.Affected...)
	old.Severity = append(old.Severity, r.Severity...)
	old.Withdrawn = old.Withdrawn || r.Withdrawn
	if old.Summary == "" {
		old.Summary = r.Summary
	}
	if old.Label == "" {
		old.Label = r.Label
	}
}

// finish resolves the Debian lists and counts records per ecosystem.
func (b *batch) finish() ([]Record, []BadFile) {
	for _, r := range b.lists.records() {
		b.merge(r)
	}
	counts := map[string]int{}
	recs := make([]Record, 0, len(b.order))
	for _, id := range b.order {
		r := b.records[id]
		sortAffected(r.Affected)
		recs = append(recs, *r)
		ecos := map[string]bool{}
		for _, a := range r.Affected {
			ecos[baseEcosystem(a.Ecosystem)] = true
		}
		if len(ecos) == 0 && b.nvd[id] {
			ecos["NVD"] = true
		}
		for e := range ecos {
			counts[e]++
		}
	}
	if len(b.files) > 0 {
		counts["files"] = len(b.files)
	}
	b.report.Records = len(recs)
	b.report.Counts = counts
	return recs, b.files
}

func appendNew(list []string, more ...string) []string {
	for _, m := range more {
		found := false
		for _, l := range list {
			found = found || l == m
		}
		if !found {
			list = append(list, m)
		}
	}
	return list
}
