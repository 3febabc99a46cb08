package fs

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// lockSuffix names a spool's lock file: the spool's directory name plus it.
const lockSuffix = ".lock"

// maxClaims bounds claimSpool's attempts. One fails only when a New in
// another process took the fresh lock file for a dead owner's, between
// its creation and its locking, so a second attempt all but always wins.
const maxClaims = 10

// spool is one Blobs' directory under tmp/ and the lock file whose
// exclusive flock marks the directory as in use. The lock goes with the
// open file, so a crash releases it and the next New removes the spool.
// It is safe for concurrent use.
type spool struct {
	dir  string   // <root>/tmp/spool-N
	lock *os.File // <root>/tmp/spool-N.lock, flocked while open

	// mu guards released.
	mu       sync.Mutex
	released bool
}

// claimSpool creates and locks a new spool under tmp.
func claimSpool(tmp string) (*spool, error) {
	for range maxClaims {
		s, err := tryClaim(tmp)
		if s != nil || err != nil {
			return s, err
		}
	}
	return nil, fmt.Errorf("claim spool directory in %s: lost %d races for a fresh lock",
		tmp, maxClaims)
}

// tryClaim returns a locked spool, or nil and no error when another
// process reaped the lock file before it could be locked. The lock comes
// before the directory, so a spool directory never exists unlocked while
// its owner lives.
func tryClaim(tmp string) (*spool, error) {
	f, err := os.CreateTemp(tmp, "spool-*"+lockSuffix)
	if err != nil {
		return nil, fmt.Errorf("create spool lock: %w", err)
	}
	held, err := lock(f)
	if err != nil || !held {
		// Not ours to remove: whoever holds it removes it.
		f.Close()
		return nil, err
	}

	// A directory of this name can only be what a reap cut short left.
	dir := strings.TrimSuffix(f.Name(), lockSuffix)
	err = os.RemoveAll(dir)
	if err == nil {
		err = os.Mkdir(dir, dirMode)
	}
	if err != nil {
		os.Remove(f.Name())
		f.Close()
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	return &spool{dir: dir, lock: f}, nil
}

// release removes the spool and then its lock file, and drops the lock.
// Releasing twice is not an error.
func (s *spool) release() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return nil
	}
	s.released = true
	err := errors.Join(os.RemoveAll(s.dir), os.Remove(s.lock.Name()), s.lock.Close())
	if err != nil {
		return fmt.Errorf("remove spool %s: %w", s.dir, err)
	}
	return nil
}

// reapSpools removes what owners gone before left in tmp: spools whose
// lock nobody holds, spool directories without a lock file (a removal cut
// short) and loose files from before spools had owners. Live spools and
// own are left alone.
func reapSpools(tmp string, own *spool) error {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("list spools: %w", err)
	}
	var errs []error
	for _, e := range entries {
		path := filepath.Join(tmp, e.Name())
		base, isLock := strings.CutSuffix(e.Name(), lockSuffix)
		switch {
		case path == own.dir || path == own.lock.Name():
		case isLock && e.Type().IsRegular():
			errs = append(errs, reap(filepath.Join(tmp, base), path))
		case e.IsDir() && exists(path+lockSuffix):
			// Its lock file decides, in the case above.
		default:
			errs = append(errs, os.RemoveAll(path))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove stale spools: %w", err)
	}
	return nil
}

// reap removes the spool dir if the lock at lockPath is free, which means
// its owner is gone. The lock is held until both are removed, so that no
// New elsewhere takes the lock file for a live one meanwhile.
func reap(dir, lockPath string) error {
	f, err := os.Open(lockPath)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil // its owner closed it just now
	}
	if err != nil {
		return err
	}
	defer f.Close()
	held, err := lock(f)
	if err != nil || !held {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Remove(lockPath)
}

// lock takes f's exclusive flock without waiting and reports whether it
// holds it on the file still at f's name: false with no error when
// another open file holds the lock, or when the name was removed (by a
// reap or a release) between the open and the lock.
//
// flock, not fcntl: an fcntl lock never conflicts within one process and
// is dropped when the process closes any descriptor of the file, so two
// stores in one process (tests, or a command that opens the root twice)
// would take each other's spools for dead. Linux emulates flock with
// fcntl locks on NFS, where that caveat comes back.
func lock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	opened, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	named, err := os.Lstat(f.Name())
	if errors.Is(err, iofs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(opened, named), nil
}

// exists reports whether something is at path.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
