package vulndb_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"breakwater/internal/inventory"
	"breakwater/internal/vulndb"
	"breakwater/internal/vulndb/sqlite"
)

func Example() {
	dir, err := os.MkdirTemp("", "vulndb-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := sqlite.Open(filepath.Join(dir, "vulndb.db"))
	if err != nil {
		log.Fatal(err)
	}
	db := vulndb.New(st, nil)
	defer db.Close()

	ctx := context.Background()
	if _, err := vulndb.Import(ctx, db, "testdata/osv/npm"); err != nil {
		log.Fatal(err)
	}
	findings, err := db.Match(ctx, &inventory.Inventory{Components: []inventory.Component{
		{Ecosystem: inventory.NPM, Name: "minimist", Version: "1.2.5"},
	}})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range findings {
		fmt.Printf("%s %s fixed in %s, CVSS %.1f (%s)\n", f.Component.Name, f.ID, f.FixedVersion, f.Score, f.Severity)
	}
	// Output: minimist GHSA-xvch-5gv4-984h fixed in 1.2.6, CVSS 9.8 (critical)
}
