package vulndb_test

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"breakwater/internal/inventory"
	"breakwater/internal/vulndb"
	"breakwater/internal/vulndb/sqlite"
)

// syntheticZip writes n OSV records over n/4 npm packages, the shape of
// osv.dev's all.zip, and returns its path.
func syntheticZip(b *testing.B, n int) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "all.zip")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for i := range n {
		rec := map[string]any{
			"id":       fmt.Sprintf("GHSA-%06d", i),
			"modified": "2024-01-01T00:00:00Z",
			"aliases":  []string{fmt.Sprintf("CVE-2024-%06d", i)},
			"affected": []any{map[string]any{
				"package": map[string]string{"ecosystem": "npm", "name": fmt.Sprintf("pkg%d", i%(n/4))},
				"ranges": []any{map[string]any{"type": "SEMVER", "events": []any{
					map[string]string{"introduced": "0"}, map[string]string{"fixed": fmt.Sprintf("1.%d.0", i%50)},
				}}},
			}},
			"severity": []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		}
		w, err := zw.Create(fmt.Sprintf("GHSA-%06d.json", i))
		if err != nil {
			b.Fatal(err)
		}
		if err := json.NewEncoder(w).Encode(rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

func benchDB(b *testing.B) *vulndb.DB {
	b.Helper()
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "vulndb.db"))
	if err != nil {
		b.Fatal(err)
	}
	db := vulndb.New(st, nil)
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkImport re-imports a 10,000-record zip; records/s is the rate.
func BenchmarkImport(b *testing.B) {
	const n = 10000
	zipPath := syntheticZip(b, n)
	db := benchDB(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := vulndb.Import(context.Background(), db, zipPath); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkMatch matches 500 components against 10,000 records.
func BenchmarkMatch(b *testing.B) {
	db := benchDB(b)
	if _, err := vulndb.Import(context.Background(), db, syntheticZip(b, 10000)); err != nil {
		b.Fatal(err)
	}
	inv := &inventory.Inventory{}
	for i := range 500 {
		inv.Components = append(inv.Components, inventory.Component{Ecosystem: "npm", Name: fmt.Sprintf("pkg%d", i), Version: "1.0.0"})
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := db.Match(context.Background(), inv); err != nil {
			b.Fatal(err)
		}
	}
}
