package rollout

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/flexrec/flexrec/internal/atomicfile"
	"github.com/flexrec/flexrec/prompt"
)

// meta is the sidecar that ties a rollouts file to its configuration.
type meta struct {
	Schema      int    `json:"schema_version"`
	Fingerprint string `json:"fingerprint"`
}

// checkMeta writes path's sidecar when it is new, or refuses a fingerprint
// other than the one the file was started with. The sidecar only makes the
// refusal early and plain; every kept record is verified on its own (see
// scanFile), so a deleted sidecar weakens nothing.
func checkMeta(path, fingerprint string) error {
	side := path + ".meta.json"
	data, err := os.ReadFile(side)
	switch {
	case errors.Is(err, os.ErrNotExist):
		b, _ := json.Marshal(meta{Schema: SchemaVersion, Fingerprint: fingerprint}) // plain struct: cannot fail
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("rollout: %w", err)
		}
		return atomicfile.WriteFile(side, b, 0o644)
	case err != nil:
		return fmt.Errorf("rollout: read %s: %w", side, err)
	}
	var m meta
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("rollout: read %s: %w", side, err)
	}
	if m.Fingerprint != fingerprint || m.Schema != SchemaVersion {
		return fmt.Errorf("rollout: %s was written by another configuration (%s, now %s): use another output folder or remove it", path, m.Fingerprint, fingerprint)
	}
	return nil
}

// span is one complete episode group in a rollouts file.
type span struct {
	// idx is the episode's index in the run; off and n the group's bytes.
	idx    int
	off, n int64
}

// layout is what a scan found in a rollouts file: the complete groups in
// file order, and where the verified part ends.
type layout struct {
	groups []span
	done   []bool
	// keep is the byte offset after the last kept group.
	keep int64
}

// ordered reports whether the groups sit in episode order with no gap, as
// an uninterrupted run writes them.
func (l *layout) ordered() bool {
	for k, g := range l.groups {
		if g.idx != k {
			return false
		}
	}
	return true
}

// DamageError is a rollouts file that cannot be resumed as it is: a line
// that was changed after it was written (its checksum no longer matches)
// or broken in the middle of the file. Resume with TruncateAtDamage to cut
// the file at Line.
type DamageError struct {
	// Path and Line locate the first damaged line (1-based).
	Path string
	Line int
	// Reason says what is wrong with it.
	Reason string
	// After counts the complete groups after the damage that a cut drops.
	After int
}

// Error names the file, the line and the way out.
func (e *DamageError) Error() string {
	return fmt.Sprintf("rollout: resume %s:%d: %s; %d complete episode groups follow it: restore the file, or rerun with --truncate-at-damage to cut it there (those groups are sampled again)",
		e.Path, e.Line, e.Reason, e.After)
}

// ForeignError is a rollouts file holding records of another run: another
// fingerprint, an episode this run does not have, another group size, or a
// record without a checksum. It is never cut.
type ForeignError struct {
	Path   string
	Line   int
	Reason string
}

// Error names the file, the line and the reason.
func (e *ForeignError) Error() string {
	return fmt.Sprintf("rollout: resume %s:%d: %s: the file belongs to another run; use another output or remove it", e.Path, e.Line, e.Reason)
}

// resume scans path (see scanFile), cuts a torn tail (or, with
// truncate, everything from the first damaged line), and returns the
// layout of the kept groups.
func resume(path string, eps []prompt.Episode, g int, fingerprint string, truncate bool, st *Stats, log *slog.Logger) (*layout, error) {
	lay := &layout{done: make([]bool, len(eps))}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return lay, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rollout: resume %s: %w", path, err)
	}
	defer f.Close()
	index := make(map[string]int, len(eps))
	for i := range eps {
		index[eps[i].ID] = i
	}
	sc := scanner{path: path, index: index, g: g, fingerprint: fingerprint, lay: lay, st: st}
	if err := sc.scan(f); err != nil {
		return nil, err
	}
	if sc.damage != nil {
		if !truncate {
			return nil, sc.damage
		}
		log.Warn("rollout: cutting the file at its first damaged line", "file", path, "line", sc.damage.Line,
			"reason", sc.damage.Reason, "complete_groups_dropped", sc.damage.After)
	}
	if size, _ := f.Seek(0, io.SeekEnd); size > lay.keep && sc.damage == nil {
		log.Info("rollout: cutting a partial tail left by an interrupted write", "file", path, "bytes", size-lay.keep)
	}
	if err := f.Truncate(lay.keep); err != nil {
		return nil, fmt.Errorf("rollout: resume %s: cut at byte %d: %w", path, lay.keep, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("rollout: resume %s: %w", path, err)
	}
	st.Resumed = len(lay.groups)
	return lay, nil
}

// scanner reads a rollouts file line by line and verifies every record:
// its checksum, its fingerprint, its episode and its place in a group.
// Complete groups may come in any order (a run that was interrupted or
// had failures writes what it finished), but never twice.
type scanner struct {
	path        string
	index       map[string]int
	g           int
	fingerprint string
	lay         *layout
	st          *Stats
	// damage is the first damaged line; after it, complete groups are
	// only counted.
	damage *DamageError
	group  []Record
	start  int64
}

func (s *scanner) scan(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var off int64
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("rollout: resume %s:%d: %w", s.path, line, err)
		}
		if len(b) == 0 || b[len(b)-1] != '\n' {
			return nil // EOF, or a last line without newline: a torn write, cut
		}
		if err := s.line(b, line, off); err != nil {
			return err
		}
		off += int64(len(b))
	}
}

// line verifies one newline-terminated line at byte offset off.
func (s *scanner) line(b []byte, line int, off int64) error {
	var rec Record
	jerr := json.Unmarshal(b, &rec)
	cerr := verifyLine(b)
	switch {
	case jerr != nil:
		s.damaged(line, fmt.Sprintf("not a JSON record (%v)", jerr))
		return nil
	case errors.Is(cerr, errNoChecksum):
		return &ForeignError{s.path, line, "record without a checksum (written by another tool or an older flexrec), so it cannot be verified"}
	case cerr != nil:
		s.damaged(line, fmt.Sprintf("episode %q rollout %d: %v", rec.EpisodeID, rec.Rollout, cerr))
		return nil
	}
	if rec.JobFingerprint != s.fingerprint {
		return &ForeignError{s.path, line, fmt.Sprintf("record written under settings %q, this run's are %q", rec.JobFingerprint, s.fingerprint)}
	}
	idx, ok := s.index[rec.EpisodeID]
	if !ok {
		return &ForeignError{s.path, line, fmt.Sprintf("episode %q is not one of this run's %d episodes", rec.EpisodeID, len(s.index))}
	}
	if rec.Group != s.g {
		return &ForeignError{s.path, line, fmt.Sprintf("group size %d, this run's is %d", rec.Group, s.g)}
	}
	if len(s.group) > 0 && (rec.EpisodeID != s.group[0].EpisodeID || rec.Rollout != len(s.group)) ||
		len(s.group) == 0 && rec.Rollout != 0 {
		s.damaged(line, fmt.Sprintf("episode %q rollout %d out of place in its group", rec.EpisodeID, rec.Rollout))
		s.group = s.group[:0]
		return nil
	}
	if len(s.group) == 0 {
		s.start = off
	}
	s.group = append(s.group, rec)
	if len(s.group) < s.g {
		return nil
	}
	defer func() { s.group = s.group[:0] }()
	if s.damage != nil {
		s.damage.After++
		return nil
	}
	if s.lay.done[idx] {
		s.damaged(line, fmt.Sprintf("episode %q appears twice", rec.EpisodeID))
		return nil
	}
	s.lay.done[idx] = true
	end := off + int64(len(b))
	s.lay.groups = append(s.lay.groups, span{idx: idx, off: s.start, n: end - s.start})
	s.lay.keep = end
	s.st.add(s.group)
	return nil
}

// damaged notes the first damaged line; the file is kept up to the last
// complete group before it.
func (s *scanner) damaged(line int, reason string) {
	if s.damage == nil {
		s.damage = &DamageError{Path: s.path, Line: line, Reason: reason}
	}
}
