package rollout

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// other than the one the file was started with.
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

// resume finds the complete episode groups at the start of path, checks
// that they are eps' first episodes, cuts anything after them (a group or
// line a kill left half-written), and returns how many episodes are done.
func resume(path string, eps []prompt.Episode, g int, st *Stats) (int, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("rollout: resume %s: %w", path, err)
	}
	defer f.Close()
	done, keep, err := scanGroups(f, path, eps, g, st)
	if err != nil {
		return 0, err
	}
	if err := f.Truncate(keep); err != nil {
		return 0, fmt.Errorf("rollout: resume %s: cut partial tail: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("rollout: resume %s: %w", path, err)
	}
	st.Resumed = done
	return done, nil
}

// scanGroups reads whole records, group by group, and returns the number of
// complete groups and the byte offset after the last one.
func scanGroups(r io.Reader, path string, eps []prompt.Episode, g int, st *Stats) (int, int64, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var keep, off int64
	done := 0
	group := make([]Record, 0, g)
	for line := 1; done < len(eps); line++ {
		b, err := br.ReadBytes('\n')
		if err != nil || len(b) == 0 {
			break // EOF, or a last line without newline: a partial write
		}
		off += int64(len(b))
		var rec Record
		if json.Unmarshal(b, &rec) != nil {
			break // a torn line: cut here
		}
		want := eps[done].ID
		if rec.EpisodeID != want || rec.Rollout != len(group) || rec.Group != g {
			return 0, 0, fmt.Errorf("rollout: resume %s:%d: found episode %q rollout %d of %d, want %q rollout %d of %d: the file belongs to another run; use another output folder",
				path, line, rec.EpisodeID, rec.Rollout, rec.Group, want, len(group), g)
		}
		group = append(group, rec)
		if len(group) == g {
			st.add(group)
			done, keep, group = done+1, off, group[:0]
		}
	}
	if done == len(eps) {
		if b, _ := br.ReadBytes('\n'); len(b) > 0 && b[len(b)-1] == '\n' {
			return 0, 0, fmt.Errorf("rollout: resume %s: the file holds more complete episodes than the %d of this run: it belongs to another run; use another output file", path, len(eps))
		}
	}
	return done, keep, nil
}
