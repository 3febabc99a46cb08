package vulndb

import "context"

// Store keeps imported records per source. Implementations must make
// Replace atomic: readers see a source's old records or its new ones,
// never a mix.
type Store interface {
	// Replace swaps every record and bad file of src.Name for the given
	// ones and records src's bookkeeping.
	Replace(ctx context.Context, src Source, recs []Record, files []BadFile) error
	// Affecting returns the records with an Affected entry for one of
	// ecosystems and the normalised name (see NormalName).
	Affecting(ctx context.Context, ecosystems []string, name string) ([]Record, error)
	// ByID returns the records, of any source, whose ID is one of ids.
	ByID(ctx context.Context, ids []string) ([]Record, error)
	// BadFiles returns the known-bad entries for the given digests.
	BadFiles(ctx context.Context, digests []string) ([]BadFile, error)
	// Sources lists every imported source by name.
	Sources(ctx context.Context) ([]Source, error)
	Close() error
}
