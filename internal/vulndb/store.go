package vulndb

import "context"

// Store keeps imported records per source. A source's records are
// replaced whole: readers see its old records or its new ones, never a
// mix, and never a half-written import.
type Store interface {
	// Replace starts replacing every record and bad file of the source
	// name; nothing of it is visible until the Replacement commits.
	Replace(ctx context.Context, name string) (Replacement, error)
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

// Replacement is one source's new contents on their way in, so an import
// streams records to the store instead of holding them all. It is not
// safe for concurrent use, and must end with Commit or Abort.
type Replacement interface {
	// Put adds r. A record whose ID was put before is merged into that
	// one (see Record.Merge): feeds spread one CVE over several files.
	Put(r Record) error
	// PutBadFile adds a known-bad file digest.
	PutBadFile(f BadFile) error
	// Commit makes what was put visible in place of the source's old
	// contents, with src's bookkeeping (src.Name is the source's name).
	Commit(src Source) error
	// Abort drops what was put; the old contents stay. It is a no-op
	// after Commit.
	Abort() error
}
