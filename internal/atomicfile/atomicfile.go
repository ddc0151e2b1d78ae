// Package atomicfile writes files so that a reader never sees a
// half-written one: data goes to a temporary file in the same folder,
// which is synced and renamed over the target only when complete. A kill
// at any point leaves either the old file (or none) or the new one, plus at
// most a stray temporary file whose name starts with "." and ends in
// ".tmp-*". It is its own package because every stage that writes outputs
// (datasets, rollouts, exports, reports, caches) needs it and none of them
// owns it.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File is a file being written atomically. Write to it, then Commit to
// publish it under its final name, or Abort to drop it. Commit or Abort
// must be called exactly once; Abort after Commit is a no-op, so
// `defer f.Abort()` is the idiom. A File is not safe for concurrent use.
type File struct {
	*os.File
	path string
	perm fs.FileMode
	done bool
}

// Create starts writing path with permissions perm (before the umask).
// The folder must exist.
func Create(path string, perm fs.FileMode) (*File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("atomicfile: create %s: %w", path, err)
	}
	return &File{File: tmp, path: path, perm: perm}, nil
}

// Commit syncs the data, closes the file and renames it to its final name.
// After an error the temporary file is removed and the target untouched.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("atomicfile: %s: already committed or aborted", f.path)
	}
	f.done = true
	err := f.Chmod(f.perm)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.Name()) // best effort: the error below is what matters
		return fmt.Errorf("atomicfile: commit %s: %w", f.path, err)
	}
	return nil
}

// Abort drops the temporary file; the target is untouched. It is a no-op
// after Commit or Abort.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()           // the file is being thrown away: its close error is moot
	os.Remove(f.Name()) // best effort, as above
}

// WriteFile writes data to path atomically with permissions perm.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	return f.Commit()
}
