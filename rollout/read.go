package rollout

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
)

// Scan yields the records of a rollouts JSONL stream one at a time, so
// memory stays flat whatever the file's size. A malformed line yields an
// error naming name and the line, and ends the scan, as does a record whose
// checksum (where it has one) does not match its bytes. Blank lines are
// skipped.
func Scan(r io.Reader, name string) iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		br := bufio.NewReaderSize(r, 1<<20)
		for line := 1; ; line++ {
			b, err := br.ReadBytes('\n')
			if len(b) > 0 && !(len(b) == 1 && b[0] == '\n') {
				var rec Record
				if jerr := json.Unmarshal(b, &rec); jerr != nil {
					yield(nil, fmt.Errorf("rollout: read %s:%d: %w", name, line, jerr))
					return
				}
				if cerr := verifyLine(b); cerr != nil && !errors.Is(cerr, errNoChecksum) {
					yield(nil, fmt.Errorf("rollout: read %s:%d: episode %q rollout %d: %w", name, line, rec.EpisodeID, rec.Rollout, cerr))
					return
				}
				if !yield(&rec, nil) {
					return
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(nil, fmt.Errorf("rollout: read %s: %w", name, err))
				return
			}
		}
	}
}

// ReadFile reads every record of a rollouts file into memory; for large
// files use Scan.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	defer f.Close()
	var recs []Record
	for rec, err := range Scan(f, path) {
		if err != nil {
			return nil, err
		}
		recs = append(recs, *rec)
	}
	return recs, nil
}
