// Package jsonl reads JSON Lines input fast: in chunks, hashed (SHA-256
// or a faster checksum, as the caller chooses) on a goroutine that runs
// ahead of the parser, with a framing
// check of each line (one JSON object, brackets balanced outside strings)
// that reads its top-level members without decoding the rest. It serves
// package export, which owns what the lines mean; it is a package of its
// own so that export is about formats, not bytes.
package jsonl

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// Chunks: the input is read and hashed ChunkSize bytes at a time, the
// reading goroutine at most chunkBuffers-1 chunks ahead of the parser.
const (
	ChunkSize    = 1 << 20
	chunkBuffers = 3
)

type chunk struct {
	b   []byte
	err error  // io.EOF with the last chunk, or a read error
	sum []byte // the hash of the whole input, with the last chunk
}

// Reader reads the lines of one input. Its goroutine reads and hashes
// chunks ahead of ReadLine, so that hashing overlaps with parsing when a
// second core is free; with one core it costs what hashing in line would.
// A Reader is not safe for concurrent use; cancelling the context given to
// NewReader stops its goroutine.
type Reader struct {
	name  string
	full  chan chunk
	free  chan []byte
	cur   []byte // unread part of the current chunk
	buf   []byte // the buffer cur lies in, returned to free when used up
	done  bool
	err   error // what ended the input, if not EOF
	sum   []byte
	bytes int64
	line  int
}

// NewReader starts reading r, which is named name in errors, hashing its
// bytes with h (a fresh hash, which the Reader's goroutine owns from now
// on; Sum returns its result).
func NewReader(ctx context.Context, name string, r io.Reader, h hash.Hash) *Reader {
	rd := &Reader{name: name, full: make(chan chunk), free: make(chan []byte, chunkBuffers)}
	for range chunkBuffers {
		rd.free <- make([]byte, ChunkSize)
	}
	go rd.produce(ctx, r, h)
	return rd
}

func (rd *Reader) produce(ctx context.Context, r io.Reader, h hash.Hash) {
	for {
		var buf []byte
		select {
		case buf = <-rd.free:
		case <-ctx.Done():
			return
		}
		n, err := io.ReadFull(r, buf)
		h.Write(buf[:n]) // a hash.Hash never fails to write
		c := chunk{b: buf[:n]}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			c.err, c.sum = io.EOF, h.Sum(nil)
		case err != nil:
			c.err = err
		}
		select {
		case rd.full <- c:
		case <-ctx.Done():
			return
		}
		if c.err != nil {
			return
		}
	}
}

// next makes the next chunk current; false at the end of the input or
// when ctx is done (rd.err says which).
func (rd *Reader) next(ctx context.Context) bool {
	if rd.buf != nil {
		rd.free <- rd.buf[:cap(rd.buf)] // never blocks: free has room for every buffer
		rd.buf, rd.cur = nil, nil
	}
	if rd.done {
		return false
	}
	var c chunk
	select {
	case c = <-rd.full:
	case <-ctx.Done():
		rd.done, rd.err = true, ctx.Err()
		return false
	}
	rd.buf, rd.cur = c.b, c.b
	rd.bytes += int64(len(c.b))
	if c.err != nil {
		rd.done, rd.sum = true, c.sum
		if c.err != io.EOF {
			rd.err = fmt.Errorf("read %s: %w", rd.name, c.err)
		}
	}
	return true
}

// ReadLine appends the next line, without its "\n" or "\r\n", to dst and
// returns it; ok is false at the end of the input, with dst unchanged. The
// error is ctx's, or a read error naming the input.
func (rd *Reader) ReadLine(ctx context.Context, dst []byte) (_ []byte, ok bool, err error) {
	start := len(dst)
	for {
		if len(rd.cur) == 0 && !rd.next(ctx) {
			if rd.err != nil {
				return dst[:start], false, rd.err
			}
			if ok = len(dst) > start; ok {
				rd.line++
			}
			return trimCR(dst, start), ok, nil
		}
		if i := bytes.IndexByte(rd.cur, '\n'); i >= 0 {
			dst = append(dst, rd.cur[:i]...)
			rd.cur = rd.cur[i+1:]
			rd.line++
			return trimCR(dst, start), true, nil
		}
		dst = append(dst, rd.cur...)
		rd.cur = nil
	}
}

func trimCR(b []byte, start int) []byte {
	if len(b) > start && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// Name returns the input's name.
func (rd *Reader) Name() string { return rd.name }

// Line returns the number of lines read so far: the 1-based number of the
// last line ReadLine returned.
func (rd *Reader) Line() int { return rd.line }

// Bytes returns the number of bytes read so far.
func (rd *Reader) Bytes() int64 { return rd.bytes }

// Sum returns the hex digest of the input under the hash given to
// NewReader; empty until ReadLine has reported the end of the input.
func (rd *Reader) Sum() string {
	if rd.sum == nil {
		return ""
	}
	return hex.EncodeToString(rd.sum)
}
