package vulndb_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/inventory"
	"breakwater/internal/vulndb"
)

// zipOf builds a zip of the files under testdata/dir, named by their path
// below it, like osv.dev's all.zip.
func zipOf(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	root := filepath.Join("testdata", dir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatalf("zip %s: %v", dir, err)
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("zip %s: %v", dir, err)
	}
	return buf.Bytes()
}

// writeFile writes data to name in a temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImportFormats imports each kind of input and checks the report.
func TestImportFormats(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T) string
		want vulndb.Report // Source is not compared
	}{
		{"zip of OSV records", func(t *testing.T) string { return writeFile(t, "all.zip", zipOf(t, "osv/npm")) },
			vulndb.Report{Files: 8, Records: 8, Counts: map[string]int{"npm": 8}}},
		{"folder tree of YAML records", func(t *testing.T) string { return "testdata/osv/pypi-pysec" },
			vulndb.Report{Files: 34, Records: 34, Counts: map[string]int{"PyPI": 34}}},
		{"single OSV file", func(t *testing.T) string { return "testdata/osv/go/GO-2023-2102.json" },
			vulndb.Report{Files: 1, Records: 1, Counts: map[string]int{"Go": 1}}},
		{"NVD records", func(t *testing.T) string { return "testdata/nvd" },
			vulndb.Report{Files: 102, Records: 102, Counts: map[string]int{"NVD": 102}}},
		{"NVD feed file", func(t *testing.T) string {
			one, err := os.ReadFile("testdata/nvd/fkie-cad-nvd-json-data-feeds/CVE-2023/CVE-2023-458xx/CVE-2023-45853.json")
			if err != nil {
				t.Fatal(err)
			}
			feed := `{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":` + string(one) + `}]}`
			return writeFile(t, "feed.json", []byte(feed))
		}, vulndb.Report{Files: 1, Records: 1, Counts: map[string]int{"NVD": 1}}},
		{"gzipped NVD feed", func(t *testing.T) string {
			one := mustRead(t, "testdata/nvd/fkie-cad-nvd-json-data-feeds/CVE-2023/CVE-2023-458xx/CVE-2023-45853.json")
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			fmt.Fprintf(zw, `{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":%s}]}`, one)
			zw.Close()
			return writeFile(t, "nvdcve-2.0-2023.json.gz", buf.Bytes())
		}, vulndb.Report{Files: 1, Records: 1, Counts: map[string]int{"NVD": 1}}},
		{"tar.gz bundle with a gzipped feed inside", func(t *testing.T) string {
			var gzFeed bytes.Buffer
			zw := gzip.NewWriter(&gzFeed)
			zw.Write(mustRead(t, "testdata/nvd/fkie-cad-nvd-json-data-feeds/CVE-2023/CVE-2023-458xx/CVE-2023-45853.json"))
			zw.Close()
			var tarBuf bytes.Buffer
			tw := tar.NewWriter(&tarBuf)
			add := func(name string, data []byte) {
				tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
				tw.Write(data)
			}
			add("mirror/osv/GHSA-xvch-5gv4-984h.json", mustRead(t, "testdata/osv/npm/GHSA-xvch-5gv4-984h.json"))
			add("mirror/nvd/CVE-2023-45853.json.gz", gzFeed.Bytes())
			add("mirror/.git/objects/GO-x.json", []byte(`{"id":"GO-2099-1","modified":"x"}`))
			tw.Close()
			var out bytes.Buffer
			zw = gzip.NewWriter(&out)
			zw.Write(tarBuf.Bytes())
			zw.Close()
			return writeFile(t, "mirror.tar.gz", out.Bytes())
		}, vulndb.Report{Files: 2, Records: 2, Counts: map[string]int{"npm": 1, "NVD": 1}}},
		{"Alpine secdb per package", func(t *testing.T) string { return "testdata/alpine-secdb" },
			vulndb.Report{Files: 6, Records: 245, Counts: map[string]int{"Alpine": 245}}},
		{"Alpine secdb release file", func(t *testing.T) string {
			return writeFile(t, "main.json", []byte(`{"distroversion":"v3.20","reponame":"main","packages":[
				{"pkg":{"name":"zlib","secfixes":{"0":["CVE-2023-45853"],"1.2.12-r2":["CVE-2022-37434"]}}},
				{"pkg":{"name":"busybox","secfixes":{"1.35.0-r7":["ALPINE-13661 CVE-2022-28391"]}}}]}`))
		}, vulndb.Report{Files: 1, Records: 3, Counts: map[string]int{"Alpine": 3}}},
		{"Debian tracker export", func(t *testing.T) string { return "testdata/debian-security-tracker/tracker-json-sample" },
			vulndb.Report{Files: 1, Records: 2, Counts: map[string]int{"Debian": 2}}},
		{"unknown files are counted, not fatal", func(t *testing.T) string {
			dir := t.TempDir()
			for name, data := range map[string]string{
				"notes.txt":      "just words",
				"other.json":     `{"hello": "world"}`,
				"broken.json":    `{"id": "GHSA-x", "modif`,
				"sub/GO-x.json":  `{"id":"GO-2099-0001","modified":"2099-01-01T00:00:00Z","affected":[]}`,
				".git/HEAD.json": `{"id":"GO-2099-0002","modified":"2099-01-01T00:00:00Z"}`,
			} {
				p := filepath.Join(dir, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			return dir
		}, vulndb.Report{Files: 4, Records: 1, Counts: map[string]int{}, Unknown: 3,
			UnknownFiles: []string{"broken.json", "notes.txt", "other.json"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openDB(t)
			rep, err := vulndb.Import(context.Background(), db, tt.path(t))
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			rep.Source = ""
			if diff := cmp.Diff(rep, tt.want); diff != "" {
				t.Errorf("report (-got +want):\n%s", diff)
			}
			// Status says what the import said, whatever Counts sum to.
			srcs, err := db.Status(context.Background())
			if err != nil || len(srcs) != 1 || srcs[0].Records != rep.Records {
				t.Errorf("status %+v, %v; want one source of %d records", srcs, err, rep.Records)
			}
		})
	}
}

// TestImportRejectsBrokenRecord keeps a source's records when a
// recognised file of the new import does not parse.
func TestImportRejectsBrokenRecord(t *testing.T) {
	db := openDB(t)
	dir := t.TempDir()
	good, err := os.ReadFile("testdata/osv/npm/GHSA-xvch-5gv4-984h.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a.json"), good, 0o644)
	if _, err := vulndb.Import(context.Background(), db, dir); err != nil {
		t.Fatalf("first import: %v", err)
	}

	// An OSV record whose affected list has the wrong shape.
	os.WriteFile(filepath.Join(dir, "b.json"), []byte(`{"id":"GHSA-bad","modified":"x","affected":{"oops":1}}`), 0o644)
	_, err = vulndb.Import(context.Background(), db, dir)
	if err == nil || !strings.Contains(err.Error(), "b.json") {
		t.Fatalf("import error = %v, want one naming b.json", err)
	}
	got := match(t, db, &inventory.Inventory{Components: []inventory.Component{comp("npm", "minimist", "1.2.5")}})
	if _, ok := got["minimist GHSA-xvch-5gv4-984h"]; !ok {
		t.Errorf("findings = %v after a failed import, want the first import's", keys(got))
	}
}

// TestReimportReplaces imports one source twice with different contents
// and a second source beside it, and checks the status bookkeeping.
func TestReimportReplaces(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	lodash := comp("npm", "lodash", "4.17.19")
	chalk := comp("npm", "chalk", "5.6.1")
	inv := &inventory.Inventory{Components: []inventory.Component{lodash, chalk}}

	feed := func(dir string) string { return filepath.Join("testdata", dir) }
	if _, err := vulndb.Import(ctx, db, feed("osv/npm"), vulndb.WithSource("advisories")); err != nil {
		t.Fatal(err)
	}
	if _, err := vulndb.Import(ctx, db, feed("osv/malicious/npm/chalk"), vulndb.WithSource("malware")); err != nil {
		t.Fatal(err)
	}
	before := keys(match(t, db, inv))

	// The advisories source now holds only minimist's record.
	if _, err := vulndb.Import(ctx, db, feed("osv/npm/GHSA-xvch-5gv4-984h.json"), vulndb.WithSource("advisories")); err != nil {
		t.Fatal(err)
	}
	after := keys(match(t, db, inv))

	if diff := cmp.Diff(before, []string{"chalk MAL-2025-46969", "lodash GHSA-35jh-r3h4-6jhm", "lodash GHSA-p6mc-m468-83gw"}); diff != "" {
		t.Errorf("before re-import (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(after, []string{"chalk MAL-2025-46969"}); diff != "" {
		t.Errorf("after re-import (-got +want):\n%s", diff)
	}

	srcs, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range srcs {
		if time.Since(srcs[i].ImportedAt) > time.Hour || srcs[i].ImportedAt.IsZero() {
			t.Errorf("%s imported at %v, want now", srcs[i].Name, srcs[i].ImportedAt)
		}
		srcs[i].ImportedAt = time.Time{}
	}
	want := []vulndb.Source{
		{Name: "advisories", Records: 1, Counts: map[string]int{"npm": 1}},
		{Name: "malware", Records: 1, Counts: map[string]int{"npm": 1}},
	}
	if diff := cmp.Diff(srcs, want); diff != "" {
		t.Errorf("status (-got +want):\n%s", diff)
	}
}

// TestReimportPersists reopens the database file: records survive.
func TestReimportPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vulndb.db")
	for i, step := range []string{"import", "match"} {
		db := openDBAt(t, path)
		if step == "import" {
			importAll(t, db, "osv/malicious/npm/debug")
		} else {
			got := match(t, db, &inventory.Inventory{Components: []inventory.Component{comp("npm", "debug", "4.4.2")}})
			if _, ok := got["debug MAL-2025-46974"]; !ok {
				t.Errorf("step %d: findings %v, want MAL-2025-46974 after reopening", i, keys(got))
			}
		}
		db.Close()
	}
}

// TestBadFileDigests imports a known-bad digest list and matches files.
func TestBadFileDigests(t *testing.T) {
	const (
		bad   = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
		other = "sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"
	)
	list := "# known-bad files\n\n" + bad + " xmrig miner (test entry)\n" + other + "\tsecond entry\n"
	db := openDB(t)
	rep, err := vulndb.Import(context.Background(), db, writeFile(t, "bad-files.txt", []byte(list)))
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if rep.Counts["files"] != 2 {
		t.Errorf("counts = %v, want 2 files", rep.Counts)
	}

	inv := &inventory.Inventory{Files: []inventory.File{
		{Layer: "sha256:aaaa", Path: "usr/bin/miner", Digest: bad},
		{Layer: "sha256:aaaa", Path: "usr/bin/ls", Digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"},
	}}
	fs, err := db.Match(context.Background(), inv)
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.Finding{{
		ID:        bad,
		Summary:   "xmrig miner (test entry)",
		Component: inventory.Component{Name: "miner", Layer: "sha256:aaaa", Path: "usr/bin/miner"},
		Malware:   true,
	}}
	if diff := cmp.Diff(fs, want); diff != "" {
		t.Errorf("findings (-got +want):\n%s", diff)
	}

	// A later line that is not an entry fails the import.
	_, err = vulndb.Import(context.Background(), db, writeFile(t, "typo.txt", []byte(bad+" ok\nsha256:xyz typo\n")))
	if err == nil {
		t.Errorf("import of a list with a malformed line succeeded, want an error")
	}
}

// TestMatchDuringImport matches while the same source is re-imported
// with other contents: each match sees one import or the other, whole.
func TestMatchDuringImport(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	lodashOnly := writeFile(t, "one.json", mustRead(t, "testdata/osv/npm/GHSA-p6mc-m468-83gw.json"))
	inv := &inventory.Inventory{Components: []inventory.Component{comp("npm", "lodash", "4.17.11")}}
	if _, err := vulndb.Import(ctx, db, "testdata/osv/npm", vulndb.WithSource("npm")); err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			fs, err := db.Match(ctx, inv)
			if err == nil && len(fs) != 1 && len(fs) != 3 {
				err = fmt.Errorf("match %d: %d findings, want 1 or 3", i, len(fs))
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	for i := range 6 {
		path := "testdata/osv/npm"
		if i%2 == 0 {
			path = lodashOnly
		}
		if _, err := vulndb.Import(ctx, db, path, vulndb.WithSource("npm")); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if err := <-errs; err != nil {
		t.Error(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestImportHostileYAML refuses YAML that expands through aliases, the
// classic "billion laughs", instead of growing without bound.
func TestImportHostileYAML(t *testing.T) {
	var b strings.Builder
	b.WriteString("id: PYSEC-0000-1\nmodified: x\na0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("affected: *a11\n")
	rep, err := vulndb.Import(context.Background(), openDB(t), writeFile(t, "bomb.yaml", []byte(b.String())))
	if err == nil && rep.Unknown != 1 {
		t.Errorf("import = %+v, want an error or the file counted unknown", rep)
	}
}

// TestImportMixedTree imports every test file as one source: formats mix,
// and a CVE that the tracker and NVD both have becomes one record.
func TestImportMixedTree(t *testing.T) {
	db := openDB(t)
	rep, err := vulndb.Import(context.Background(), db, "testdata")
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[string]int{"Alpine": 245, "Debian": 111, "Go": 146, "NVD": 102, "PyPI": 55, "npm": 19}
	if diff := cmp.Diff(rep.Counts, wantCounts); diff != "" {
		t.Errorf("counts (-got +want):\n%s", diff)
	}
	if rep.Unknown != 1 || len(rep.UnknownFiles) != 1 || rep.UnknownFiles[0] != "README.md" {
		t.Errorf("unknown = %d %v, want only README.md", rep.Unknown, rep.UnknownFiles)
	}

	recs, err := db.Records(context.Background(), "CVE-2023-4911")
	if err != nil || len(recs) != 1 {
		t.Fatalf("records = %v, %v; want one", recs, err)
	}
	if len(recs[0].Affected) == 0 || len(recs[0].Severity) == 0 {
		t.Errorf("record = %+v, want the tracker's packages and NVD's scores together", recs[0])
	}
}
