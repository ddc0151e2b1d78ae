package dataset

import (
	"github.com/flexrec/flexrec/internal/atomicfile"

	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"

	"github.com/flexrec/flexrec/prompt"
)

// WriteEpisodes writes eps as JSON Lines, one prompt.Episode per line, in
// order. HTML characters are not escaped, so titles stay readable. The
// output is a pure function of eps: the same episodes give the same bytes.
func WriteEpisodes(w io.Writer, eps []prompt.Episode) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range eps {
		if err := enc.Encode(&eps[i]); err != nil {
			return fmt.Errorf("dataset: write episode %q: %w", eps[i].ID, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dataset: write episodes: %w", err)
	}
	return nil
}

// WriteEpisodesFile writes eps to path atomically: to a temporary file in
// the same folder, synced and then renamed over path, so a reader never sees
// half a file and an interrupted run leaves any old file intact.
func WriteEpisodesFile(path string, eps []prompt.Episode) error {
	return writeFileAtomic(path, func(w io.Writer) error { return WriteEpisodes(w, eps) })
}

// ScanEpisodes yields the episodes of a JSON Lines stream one at a time,
// validating each (prompt.ParseEpisode). Blank lines are skipped. A bad line
// yields an error naming name and the line number and ends the sequence; so
// does a cancelled ctx. Lines may be of any length.
func ScanEpisodes(ctx context.Context, r io.Reader, name string) iter.Seq2[*prompt.Episode, error] {
	return func(yield func(*prompt.Episode, error) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		for line := 1; ; line++ {
			if err := ctx.Err(); err != nil {
				yield(nil, fmt.Errorf("dataset: read episodes %s:%d: %w", name, line, err))
				return
			}
			b, err := br.ReadBytes('\n')
			if len(bytes.TrimSpace(b)) > 0 {
				ep, perr := prompt.ParseEpisode(b)
				if perr != nil {
					yield(nil, fmt.Errorf("dataset: read episodes %s:%d: %w", name, line, perr))
					return
				}
				if !yield(ep, nil) {
					return
				}
			}
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, fmt.Errorf("dataset: read episodes %s:%d: %w", name, line, err))
				return
			}
		}
	}
}

// ReadEpisodes reads a whole JSON Lines stream into a slice; see
// ScanEpisodes for the errors.
func ReadEpisodes(ctx context.Context, r io.Reader, name string) ([]prompt.Episode, error) {
	var eps []prompt.Episode
	for ep, err := range ScanEpisodes(ctx, r, name) {
		if err != nil {
			return nil, err
		}
		eps = append(eps, *ep)
	}
	return eps, nil
}

// ReadEpisodesFile reads the episodes of the JSON Lines file at path.
func ReadEpisodesFile(ctx context.Context, path string) ([]prompt.Episode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: read episodes: %w", err)
	}
	defer f.Close() // read-only: a close error cannot lose data
	return ReadEpisodes(ctx, f, path)
}

// WriteInteractions writes ins as CSV in the generic layout's
// interactions.csv format: a header "user,item,value,time", then one row per
// interaction in order (time empty when 0, values in shortest form).
func WriteInteractions(w io.Writer, ins []Interaction) error {
	cw := csv.NewWriter(w)
	row := make([]string, 4)
	if err := cw.Write([]string{"user", "item", "value", "time"}); err != nil {
		return fmt.Errorf("dataset: write interactions: %w", err)
	}
	for _, in := range ins {
		row[0], row[1], row[2], row[3] = in.User, in.Item, strconv.FormatFloat(in.Value, 'g', -1, 64), ""
		if in.Time != 0 {
			row[3] = strconv.FormatInt(in.Time, 10)
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("dataset: write interactions: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("dataset: write interactions: %w", err)
	}
	return nil
}

// writeFileAtomic writes path through atomicfile: a reader never sees a
// half-written file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	defer f.Abort()
	if err := write(f); err != nil {
		return err
	}
	return f.Commit()
}

// WriteInteractionsFile writes ins to path atomically (see
// WriteInteractions and WriteEpisodesFile).
func WriteInteractionsFile(path string, ins []Interaction) error {
	return writeFileAtomic(path, func(w io.Writer) error { return WriteInteractions(w, ins) })
}
