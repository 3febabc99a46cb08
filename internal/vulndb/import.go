package vulndb

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"breakwater/internal/telemetry"
)

// maxFileBytes bounds one file (or zip entry, or gunzipped file) read
// into memory. The largest real inputs, the Debian tracker's JSON export
// and NVD's yearly feeds, are well below it. A variable for tests.
var maxFileBytes int64 = 512 << 20

// countFiles is the key under which Counts holds known-bad digests.
const countFiles = "files"

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

// ImportOption changes how Import names its source or fetches a URL.
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

// Import reads path (a file, a zip, a tar, any of them gzipped, a folder
// tree, or an http(s) URL of a file or archive) and replaces the records
// of its source with what it holds. Folders whose name starts with "."
// (a git checkout's .git) are skipped, in trees and archives alike.
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

	// Download first, so the store's write lock is not held meanwhile.
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

	w, err := db.store.Replace(ctx, source)
	if err != nil {
		return Report{}, fmt.Errorf("import %s: %w", source, err)
	}
	defer w.Abort()
	b := &batch{ctx: ctx, w: w, report: Report{Source: source}}
	if err := b.readPath(ctx, local); err != nil {
		return Report{}, fmt.Errorf("import %s: %w", source, err)
	}
	if err := b.finish(); err != nil {
		return Report{}, fmt.Errorf("import %s: %w", source, err)
	}
	src := Source{
		Name:       source,
		ImportedAt: cfg.now().UTC(),
		Modified:   modified,
		Records:    b.report.Records,
		Counts:     b.report.Counts,
		Unknown:    b.report.Unknown,
	}
	if err := w.Commit(src); err != nil {
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

// batch streams what the files of one import hold into a Replacement,
// keeping only what must wait for the last file: the Debian tracker lists
// (a CVE's fix may be in any DSA file) and the ids counted per ecosystem.
type batch struct {
	ctx    context.Context
	w      Replacement
	report Report
	ids    map[string]bool            // every record id put
	ecoIDs map[string]map[string]bool // ecosystem -> ids, for the counts
	files  int
	lists  trackerLists
}

// readPath reads a file or walks a folder tree. Folders starting with "."
// (a git checkout's .git) are skipped, and symbolic links are not followed.
func (b *batch) readPath(ctx context.Context, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		// Named by its source: a download's temporary name means nothing.
		return b.readFile(path, filepath.Base(b.report.Source))
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

// maxNesting bounds archives within archives (a .json.gz in a tar.gz).
const maxNesting = 3

// readFile reads one file: a zip from disk entry by entry (osv.dev's
// all.zip can be far larger than any one record), anything else as a
// stream (see readStream).
func (b *batch) readFile(path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	if magic, _ := br.Peek(4); bytes.Equal(magic, []byte("PK\x03\x04")) {
		info, err := f.Stat()
		if err != nil {
			return err
		}
		return b.readZip(f, info.Size(), name) // ReadAt, whatever br consumed
	}
	return b.readStream(br, name, 0)
}

// readStream reads a gzip (NVD's yearly feeds) or a tar (a mirror's
// bundle of feed files) by what it starts with, and hands anything else to
// add as one file.
func (b *batch) readStream(r *bufio.Reader, name string, depth int) error {
	head, _ := r.Peek(512)
	switch {
	case depth < maxNesting && bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("open gzip %s: %w", name, err)
		}
		defer zr.Close()
		return b.readStream(bufio.NewReader(zr), name, depth+1)
	case depth < maxNesting && len(head) >= 262 && string(head[257:262]) == "ustar":
		return b.readTar(r, name, depth+1)
	}
	data, err := readLimited(r, name)
	if err != nil {
		return err
	}
	return b.add(name, data)
}

// readTar reads every regular file of a tar, skipping those under a
// folder whose name starts with "." as a folder tree's walk does.
func (b *batch) readTar(r io.Reader, name string, depth int) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar %s: %w", name, err)
		}
		if h.Typeflag != tar.TypeReg || hiddenPath(h.Name) {
			continue
		}
		if h.Size > maxFileBytes {
			return fmt.Errorf("read %s!%s: larger than %d bytes", name, h.Name, maxFileBytes)
		}
		if err := b.readStream(bufio.NewReader(tr), name+"!"+h.Name, depth); err != nil {
			return err
		}
	}
}

// hiddenPath reports whether a slash-separated path has a folder whose
// name starts with ".".
func hiddenPath(p string) bool {
	dirs := strings.Split(path.Dir(path.Clean("/"+p)), "/")
	for _, d := range dirs {
		if strings.HasPrefix(d, ".") && d != "." {
			return true
		}
	}
	return false
}

// readZip reads every file of a zip (osv.dev's all.zip holds one OSV
// record per entry). Zips inside zips are not opened.
func (b *batch) readZip(r io.ReaderAt, size int64, name string) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("open zip %s: %w", name, err)
	}
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || hiddenPath(zf.Name) {
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
		err = b.readStream(bufio.NewReader(rc), entry, 1)
		rc.Close()
		if err != nil {
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
		nvd  bool
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
		nvd = true
	case formatTrackerExport:
		recs, err = parseTrackerExport(data)
	case formatTrackerList:
		err = b.lists.add(data)
	case formatSecdb:
		recs, err = parseSecdb(data)
	case formatDigests:
		var files []BadFile
		if files, err = parseDigestList(data); err == nil {
			err = b.putBadFiles(files)
		}
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
		if err := b.put(r, nvd); err != nil {
			return err
		}
	}
	return nil
}

// put stores r and counts it under each ecosystem it affects; an NVD
// record, which affects no package, counts under "NVD".
func (b *batch) put(r Record, nvd bool) error {
	if err := b.w.Put(r); err != nil {
		return err
	}
	if b.ids == nil {
		b.ids, b.ecoIDs = map[string]bool{}, map[string]map[string]bool{}
	}
	b.ids[r.ID] = true
	ecos := map[string]bool{}
	for _, a := range r.Affected {
		ecos[baseEcosystem(a.Ecosystem)] = true
	}
	if len(ecos) == 0 && nvd {
		ecos["NVD"] = true
	}
	for e := range ecos {
		if b.ecoIDs[e] == nil {
			b.ecoIDs[e] = map[string]bool{}
		}
		b.ecoIDs[e][r.ID] = true
	}
	return nil
}

// finish stores the resolved Debian lists and fills in the counts.
func (b *batch) finish() error {
	for _, r := range b.lists.records() {
		if err := b.put(r, false); err != nil {
			return err
		}
	}
	counts := map[string]int{}
	for e, ids := range b.ecoIDs {
		counts[e] = len(ids)
	}
	if b.files > 0 {
		counts[countFiles] = b.files
	}
	b.report.Records = len(b.ids)
	b.report.Counts = counts
	return nil
}

func (b *batch) putBadFiles(files []BadFile) error {
	for _, f := range files {
		if err := b.w.PutBadFile(f); err != nil {
			return err
		}
	}
	b.files += len(files)
	return nil
}
