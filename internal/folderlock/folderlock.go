// Package folderlock gives one process at a time an output folder (or an
// output file): flexrec's jobs append, resume and rewrite what they find
// there, so two of them on the same place would interleave their records.
// The lock is an advisory flock(2) on a file beside the outputs, so the
// kernel drops it the moment its holder dies: a lock left by a killed
// process never blocks. The file also records who holds it (pid, host,
// command, start time), so a refused process can name the holder.
package folderlock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Name is the lock file's name inside a locked folder.
const Name = ".flexrec.lock"

// Holder describes the process that holds a lock.
type Holder struct {
	// PID is the holder's process id on Host.
	PID int `json:"pid"`
	// Host is the holder's host name.
	Host string `json:"host"`
	// Command is the holder's command line, program name and subcommand
	// only (never its flags, which may carry paths to key files).
	Command string `json:"command"`
	// Since is when the holder took the lock.
	Since time.Time `json:"since"`
}

// HeldError is returned by Acquire when another process holds the lock.
type HeldError struct {
	// Path is the lock file.
	Path string
	// Holder is what the lock file says of its holder; its zero value when
	// the file could not be read.
	Holder Holder
}

// Error names the place and its holder.
func (e *HeldError) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return fmt.Sprintf("folderlock: %s is in use by another flexrec process: one job per output folder", filepath.Dir(e.Path))
	}
	return fmt.Sprintf("folderlock: %s is in use by another flexrec process (pid %d on %s, %q, since %s): one job per output folder; wait for it or use another output",
		filepath.Dir(e.Path), h.PID, h.Host, h.Command, h.Since.Format(time.RFC3339))
}

// Lock is a held lock. Release it when the job ends; the process's death
// releases it too.
type Lock struct {
	f *os.File
}

// Acquire takes the lock of dir (created if missing), without waiting. It
// returns a *HeldError when another process holds it.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("folderlock: %w", err)
	}
	return acquire(filepath.Join(dir, Name))
}

// AcquireFile takes the lock of an output file: the lock file sits beside
// it, named after it ("rollouts.jsonl" → ".rollouts.jsonl.flexrec.lock").
func AcquireFile(path string) (*Lock, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("folderlock: %w", err)
	}
	return acquire(filepath.Join(dir, "."+filepath.Base(path)+Name))
}

func acquire(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("folderlock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			held := &HeldError{Path: path}
			if b, rerr := os.ReadFile(path); rerr == nil {
				_ = json.Unmarshal(b, &held.Holder) // a torn or empty file leaves the zero Holder, still a refusal
			}
			return nil, held
		}
		return nil, fmt.Errorf("folderlock: lock %s: %w", path, err)
	}
	if err := writeHolder(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("folderlock: %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

func writeHolder(f *os.File) error {
	host, _ := os.Hostname() // an unnamed host still locks; the message just lacks it
	cmd := filepath.Base(os.Args[0])
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		cmd += " " + os.Args[1]
	}
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Command: cmd, Since: time.Now().UTC().Truncate(time.Second)}) // plain struct: cannot fail
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(append(b, '\n'), 0); err != nil {
		return err
	}
	return nil
}

// Release drops the lock. The lock file stays (removing it would race with
// a process opening it); a nil Lock or a second Release is a no-op.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		f.Close()
		return fmt.Errorf("folderlock: unlock %s: %w", f.Name(), err)
	}
	return f.Close()
}
