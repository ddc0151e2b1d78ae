package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// ErrEmptyFile is wrapped by Load's error when a dataset file holds no
// rows: no bytes at all, only a byte-order mark, only blank lines, or (for
// the generic layout's interactions.csv) only a header. The error names the
// file.
var ErrEmptyFile = errors.New("file holds no rows")

// utf8BOM is the UTF-8 byte-order mark some editors write at the start of
// a file.
const utf8BOM = "\ufeff"

// FileRepair records that a loader replaced invalid UTF-8 in one file.
type FileRepair struct {
	// File is the file's display path, as errors name it.
	File string `json:"file"`
	// Lines is how many lines held invalid UTF-8, >= 1.
	Lines int `json:"lines"`
	// FirstLine is the 1-based number of the first such line.
	FirstLine int `json:"first_line"`
}

// String returns the repair as one warning line naming the file, the
// count and the first line, e.g. "dataset: items.jsonl: 3 lines held
// invalid UTF-8 (first: line 7); each invalid byte sequence was replaced
// with U+FFFD".
func (r FileRepair) String() string {
	return fmt.Sprintf("dataset: %s: %d %s invalid UTF-8 (first: line %d); each invalid byte sequence was replaced with U+FFFD",
		r.File, r.Lines, plural(r.Lines, "line held", "lines held"), r.FirstLine)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// textReader reads a UTF-8 text file for the loaders: it drops a leading
// byte-order mark and replaces every invalid byte sequence with U+FFFD,
// counting the lines it repaired. Lines are counted by '\n', as the CSV
// reader and eachLine count them, so a repair names the line an error
// would.
type textReader struct {
	br      *bufio.Reader
	pending []byte // repaired bytes not yet returned by Read
	long    []byte // scratch for a line longer than br's buffer
	err     error  // error of the last fill, returned once pending is empty
	started bool   // the first line has been read
	content bool   // some byte other than the BOM was read
	line    int    // lines read
	repair  FileRepair
}

func newTextReader(r io.Reader) *textReader {
	return &textReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Read implements io.Reader.
func (t *textReader) Read(p []byte) (int, error) {
	for len(t.pending) == 0 {
		if t.err != nil {
			return 0, t.err
		}
		t.fill()
	}
	n := copy(p, t.pending)
	t.pending = t.pending[n:]
	return n, nil
}

// empty reports whether the file holds nothing but a byte-order mark. It
// reads ahead by one line.
func (t *textReader) empty() bool {
	for !t.started && t.err == nil {
		t.fill()
	}
	return !t.content
}

// fill reads the next line into pending, repaired. The line's bytes stay
// valid until the next fill, which runs only once pending is consumed.
func (t *textReader) fill() {
	line, err := t.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		t.long = append(t.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = t.br.ReadSlice('\n')
			t.long = append(t.long, line...)
		}
		line = t.long
	}
	t.err = err
	if len(line) == 0 {
		return
	}
	if !t.started {
		t.started = true
		line = bytes.TrimPrefix(line, []byte(utf8BOM))
	}
	t.line++
	t.content = t.content || len(line) > 0
	if !utf8.Valid(line) {
		line = bytes.ToValidUTF8(line, []byte("\uFFFD"))
		if t.repair.Lines++; t.repair.Lines == 1 {
			t.repair.FirstLine = t.line
		}
	}
	t.pending = line
}
