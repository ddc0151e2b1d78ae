package dataset

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ctxEvery is how many rows a loader reads between checks of its context.
const ctxEvery = 1 << 14

// table reads a CSV file with a header row, by column name.
type table struct {
	file string         // display path, for errors
	r    *csv.Reader    // positioned after the header
	cols map[string]int // column name -> index
	row  int            // rows read, for context checks
}

// newTable reads the header of a CSV stream and checks that every required
// column is present. A UTF-8 byte-order mark before the header is dropped.
func newTable(r io.Reader, file string, required ...string) (*table, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = 0
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s:1: header: %w", file, err)
	}
	cols := make(map[string]int, len(head))
	for i, h := range head {
		cols[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, c := range required {
		if _, ok := cols[c]; !ok {
			return nil, fmt.Errorf("%s:1: header: missing column %q", file, c)
		}
	}
	return &table{file: file, r: cr, cols: cols}, nil
}

// next returns the next record and its line number, or io.EOF. A malformed
// record (wrong field count, bad quoting) is an error naming its line.
func (t *table) next(ctx context.Context) ([]string, int, error) {
	if t.row++; t.row%ctxEvery == 0 {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
	}
	rec, err := t.r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, pe.StartLine, fmt.Errorf("%s:%d: %w", t.file, pe.StartLine, pe.Err)
		}
		return nil, 0, err
	}
	line, _ := t.r.FieldPos(0)
	return rec, line, nil
}

// get returns the named column of rec, or "" when the file has no such
// column.
func (t *table) get(rec []string, col string) string {
	i, ok := t.cols[col]
	if !ok {
		return ""
	}
	return rec[i]
}

// eachLine calls fn with every line of r (without its line ending) and its
// 1-based number, stopping at the first error.
func eachLine(ctx context.Context, r io.Reader, fn func(line int, s string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if line%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(line, strings.TrimSuffix(sc.Text(), "\r")); err != nil {
			return err
		}
	}
	return sc.Err()
}

// parseID checks that an id field is not empty and returns it trimmed.
func parseID(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("empty %s", field)
	}
	return s, nil
}

// parseValue parses a finite engagement value within [lo, hi].
func parseValue(field, s string, lo, hi float64) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("bad %s %q: want a number", field, s)
	}
	switch {
	case hi == math.MaxFloat64 && v < lo:
		return 0, fmt.Errorf("%s %v, want >= %v", field, v, lo)
	case v < lo || v > hi:
		return 0, fmt.Errorf("%s %v out of range [%v, %v]", field, v, lo, hi)
	}
	return v, nil
}

// parseUnix parses a Unix time in whole seconds in [0, 2^32) (up to the
// year 2106). A fraction, an exponent or anything but digits is an error.
func parseUnix(field, s string) (int64, error) {
	s = strings.TrimSpace(s)
	t, err := strconv.ParseInt(s, 10, 64)
	if err != nil || t < 0 || t > math.MaxUint32 {
		return 0, fmt.Errorf("bad %s %q: want whole Unix seconds in [0, 2^32)", field, s)
	}
	return t, nil
}

// parseUnixFrac parses a Unix time in seconds in [0, 2^32) that may carry
// a fraction, as KuaiRec's timestamps do (milliseconds); the fraction is
// dropped.
func parseUnixFrac(field, s string) (int64, error) {
	s = strings.TrimSpace(s)
	if t, err := strconv.ParseInt(s, 10, 64); err == nil && t >= 0 && t <= math.MaxUint32 {
		return t, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > math.MaxUint32 {
		return 0, fmt.Errorf("bad %s %q: want Unix seconds", field, s)
	}
	return int64(f), nil
}

// interner shares one string per distinct id, so millions of interactions
// do not hold millions of copies of the same user and item ids.
type interner map[string]string

func (in interner) get(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	s = strings.Clone(s)
	in[s] = s
	return s
}

// withFile runs fn on the named UTF-8 text file of src and closes it. fn
// reads the file without a leading byte-order mark and with invalid UTF-8
// replaced by U+FFFD; the repair is recorded in ds.InvalidUTF8. A file
// with no bytes besides a byte-order mark is an error wrapping
// ErrEmptyFile, naming the file, before fn runs.
func withFile(src source, ds *Dataset, file string, fn func(r io.Reader, display string) error) error {
	return withRawFile(src, file, func(r io.Reader, display string) error {
		t := newTextReader(r)
		if t.empty() {
			if t.err != nil && !errors.Is(t.err, io.EOF) {
				return fmt.Errorf("dataset: read %s: %w", display, t.err)
			}
			return fmt.Errorf("dataset: load %s: %w", display, ErrEmptyFile)
		}
		err := fn(t, display)
		if t.repair.Lines > 0 {
			t.repair.File = display
			ds.InvalidUTF8 = append(ds.InvalidUTF8, t.repair)
		}
		return err
	})
}

// needItems returns an error wrapping ErrEmptyFile, naming the items file,
// when the catalogue is still empty after reading it: an error about the
// next file's first row would blame the wrong file.
func needItems(src source, ds *Dataset, file string) error {
	if len(ds.Items) > 0 {
		return nil
	}
	return fmt.Errorf("dataset: load items %s: %w", src.path(file), ErrEmptyFile)
}

// withRawFile runs fn on the bytes of the named file of src, as they are,
// and closes it: for Latin-1 files, which a decoder turns into UTF-8.
func withRawFile(src source, file string, fn func(r io.Reader, display string) error) error {
	f, err := src.open(file)
	if err != nil {
		return err
	}
	defer f.Close() // read-only: a close error cannot lose data
	return fn(f, src.path(file))
}
