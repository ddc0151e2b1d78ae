package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/parquet-go/parquet-go"

	"github.com/flexrec/flexrec/internal/atomicfile"
)

// sink receives one output file's bytes: an atomicfile.File (a temporary
// file renamed into place by Commit), or a discarding sink in tests that
// measure memory.
type sink interface {
	io.Writer
	Commit() error
	Abort()
}

// createFunc opens the sink for a path; the seam tests replace.
type createFunc func(path string) (sink, error)

func atomicCreate(path string) (sink, error) {
	f, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return f, nil
}

// FileInfo describes one file of an export.
type FileInfo struct {
	// Name is the file name within the export folder.
	Name string `json:"name"`
	// Rows is the number of rows (lines or Parquet rows) written.
	Rows int64 `json:"rows"`
	// Bytes is the file size.
	Bytes int64 `json:"bytes"`
}

// outFile is one output file being written through a buffer.
type outFile struct {
	info FileInfo
	s    sink
	w    *bufio.Writer
	done bool
}

func openOut(create createFunc, dir, name string) (*outFile, error) {
	s, err := create(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	o := &outFile{info: FileInfo{Name: name}, s: s}
	o.w = bufio.NewWriterSize(countWriter{s, &o.info.Bytes}, 1<<20)
	return o, nil
}

// commit flushes the buffer (if not dropped already) and publishes the
// file under its name.
func (o *outFile) commit() error {
	o.done = true
	if o.w == nil {
		return o.s.Commit()
	}
	if err := o.w.Flush(); err != nil {
		o.s.Abort()
		return fmt.Errorf("export: write %s: %w", o.info.Name, err)
	}
	return o.s.Commit()
}

// abort drops the file; a no-op after commit.
func (o *outFile) abort() {
	if !o.done {
		o.done = true
		o.s.Abort()
	}
}

type countWriter struct {
	w io.Writer
	n *int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// jsonlFile writes one JSON value per line. HTML characters stay as they
// are ("<think>", "&"), as in the records themselves. After shuffle, rows
// go to a spill file first and commit writes them in a seeded random order.
type jsonlFile struct {
	*outFile
	enc *json.Encoder
	sh  *spill
}

// spill holds a shuffled file's rows until commit: the rows in a hidden
// temporary file, and each row's start offset.
type spill struct {
	f    *os.File
	w    *bufio.Writer
	buf  bytes.Buffer
	enc  *json.Encoder
	offs []int64 // row starts, then the end
	seed int64
}

// shuffle makes f's rows come out in a random order drawn from seed (no
// change for seed -1). The spill file sits in dir, named like atomicfile's
// temporary files, so an export killed mid-way leaves nothing the next
// run does not remove.
func (f *jsonlFile) shuffle(dir string, seed int64) error {
	if seed < 0 {
		return nil
	}
	tmp, err := os.CreateTemp(dir, "."+f.info.Name+".tmp-spill-*")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	sh := &spill{f: tmp, w: bufio.NewWriterSize(tmp, 1<<20), offs: []int64{0}, seed: seed}
	sh.enc = json.NewEncoder(&sh.buf)
	sh.enc.SetEscapeHTML(false)
	f.sh = sh
	return nil
}

// commit writes a shuffled file's rows in order, then publishes the file.
func (f *jsonlFile) commit() error {
	if f.sh == nil {
		return f.outFile.commit()
	}
	err := f.sh.drain(f.w)
	f.sh.remove()
	if err != nil {
		f.outFile.abort()
		return fmt.Errorf("export: shuffle %s: %w", f.info.Name, err)
	}
	return f.outFile.commit()
}

// abort drops the file and its spill.
func (f *jsonlFile) abort() {
	if f.sh != nil {
		f.sh.remove()
	}
	f.outFile.abort()
}

// drain copies the spilled rows to w in the seeded permutation. Memory:
// the offsets and the permutation, 16 bytes per row.
func (sh *spill) drain(w io.Writer) error {
	if err := sh.w.Flush(); err != nil {
		return err
	}
	n := len(sh.offs) - 1
	perm := rand.New(rand.NewPCG(uint64(sh.seed), 0x6b746f)).Perm(n)
	var row []byte
	for _, i := range perm {
		size := sh.offs[i+1] - sh.offs[i]
		row = slices.Grow(row[:0], int(size))[:size]
		if _, err := sh.f.ReadAt(row, sh.offs[i]); err != nil {
			return err
		}
		if _, err := w.Write(row); err != nil {
			return err
		}
	}
	return nil
}

func (sh *spill) remove() {
	if sh.f == nil {
		return
	}
	sh.f.Close()           // read and written through; nothing to lose
	os.Remove(sh.f.Name()) // best effort: the next export removes orphans
	sh.f = nil
}

func openJSONL(create createFunc, dir, name string) (*jsonlFile, error) {
	o, err := openOut(create, dir, name)
	if err != nil {
		return nil, err
	}
	enc := json.NewEncoder(o.w)
	enc.SetEscapeHTML(false)
	return &jsonlFile{outFile: o, enc: enc}, nil
}

func (f *jsonlFile) write(v any) error {
	if f.sh != nil {
		return f.spillRow(v)
	}
	if err := f.enc.Encode(v); err != nil {
		return fmt.Errorf("export: write %s: %w", f.info.Name, err)
	}
	f.info.Rows++
	return nil
}

func (f *jsonlFile) spillRow(v any) error {
	sh := f.sh
	sh.buf.Reset()
	err := sh.enc.Encode(v)
	if err == nil {
		_, err = sh.w.Write(sh.buf.Bytes())
	}
	if err != nil {
		return fmt.Errorf("export: write %s: %w", f.info.Name, err)
	}
	sh.offs = append(sh.offs, sh.offs[len(sh.offs)-1]+int64(sh.buf.Len()))
	f.info.Rows++
	return nil
}

// writeLines writes n whole lines, each ending in '\n', as they are. The
// block goes straight to the file, without a copy into the buffer.
func (f *jsonlFile) writeLines(block []byte, n int) error {
	err := f.w.Flush()
	if err == nil {
		_, err = countWriter{f.s, &f.info.Bytes}.Write(block)
	}
	if err != nil {
		return fmt.Errorf("export: write %s: %w", f.info.Name, err)
	}
	f.info.Rows += int64(n)
	return nil
}

// parquetFile writes rows of type T, flushing a row group every maxRows
// rows so that memory stays bounded. Pages carry no min/max bounds: a
// Parquet writer keeps every row group's column index until the footer,
// and bounds of long text columns (prompts, completions) would make that
// grow by kilobytes per row group; trainers read whole files and never
// use them.
type parquetFile[T any] struct {
	*outFile
	pw     *parquet.GenericWriter[T]
	closed bool
}

func openParquet[T any](create createFunc, dir, name string, maxRows int, meta [][2]string) (*parquetFile[T], error) {
	o, err := openOut(create, dir, name)
	if err != nil {
		return nil, err
	}
	opts := []parquet.WriterOption{
		parquet.MaxRowsPerRowGroup(int64(maxRows)),
		parquet.Compression(&parquet.Snappy),
		parquet.CreatedBy("flexrec", Version(), ""),
	}
	for _, kv := range meta {
		opts = append(opts, parquet.KeyValueMetadata(kv[0], kv[1]))
	}
	for _, path := range parquet.SchemaOf(new(T)).Columns() {
		opts = append(opts, parquet.SkipPageBounds(path...))
	}
	return &parquetFile[T]{outFile: o, pw: parquet.NewGenericWriter[T](o.w, opts...)}, nil
}

func (f *parquetFile[T]) write(rows []T) error {
	if _, err := f.pw.Write(rows); err != nil {
		return fmt.Errorf("export: write %s: %w", f.info.Name, err)
	}
	f.info.Rows += int64(len(rows))
	return nil
}

// close writes the Parquet footer and flushes the buffer, then drops the
// writer and the buffer, so that a finished file waiting for its commit
// holds no memory (only its open temporary file).
func (f *parquetFile[T]) close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	err := f.pw.Close()
	if err == nil {
		err = f.w.Flush()
	}
	f.pw, f.w = nil, nil
	if err != nil {
		return fmt.Errorf("export: write %s: %w", f.info.Name, err)
	}
	return nil
}

// commit writes the Parquet footer (unless close did), then publishes the
// file.
func (f *parquetFile[T]) commit() error {
	if err := f.close(); err != nil {
		f.abort()
		return err
	}
	return f.outFile.commit()
}

// shardName is the name of shard i of a sharded Parquet output:
// "<base>-00000.parquet", "<base>-00001.parquet", ... (five digits, more
// past 99,999 shards), so that names sort in row order.
func shardName(base string, i int) string { return fmt.Sprintf("%s-%05d.parquet", base, i) }

// parquetShards writes rows of type T into shards of at most shardRows
// rows each (shardName). A Parquet writer keeps the footer metadata of
// every row group it wrote until it is closed (about 50 bytes per row for
// the native schema), so a single file would make memory grow with the
// rows; closing each shard when full keeps it bounded by shardRows. The
// finished shards stay temporary files until commit publishes them all,
// so an interrupted export still leaves no data file under its final
// name. Shard 0 always exists, empty when no row is written.
type parquetShards[T any] struct {
	create    createFunc
	dir, base string
	groupRows int
	shardRows int64
	meta      [][2]string
	shards    []*parquetFile[T] // the last one is being written
}

func openShards[T any](create createFunc, dir, base string, groupRows, shardRows int, meta [][2]string) (*parquetShards[T], error) {
	s := &parquetShards[T]{create: create, dir: dir, base: base, groupRows: groupRows, shardRows: int64(shardRows), meta: meta}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// open closes the current shard (if any) and starts the next.
func (s *parquetShards[T]) open() error {
	if n := len(s.shards); n > 0 {
		if err := s.shards[n-1].close(); err != nil {
			return err
		}
	}
	f, err := openParquet[T](s.create, s.dir, shardName(s.base, len(s.shards)), s.groupRows, s.meta)
	if err != nil {
		return err
	}
	s.shards = append(s.shards, f)
	return nil
}

// write appends rows, starting a new shard whenever the current one is
// full; the rows of one call may span shards.
func (s *parquetShards[T]) write(rows []T) error {
	for len(rows) > 0 {
		cur := s.shards[len(s.shards)-1]
		if cur.info.Rows == s.shardRows {
			if err := s.open(); err != nil {
				return err
			}
			continue
		}
		n := min(int64(len(rows)), s.shardRows-cur.info.Rows)
		if err := cur.write(rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// outputs returns every shard, in order.
func (s *parquetShards[T]) outputs() []output {
	out := make([]output, len(s.shards))
	for i, f := range s.shards {
		out[i] = f
	}
	return out
}
