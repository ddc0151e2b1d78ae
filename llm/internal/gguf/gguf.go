// Package gguf writes GGUF version 3 files: the model format of llama.cpp
// and Ollama. It owns only the container (header, metadata, tensor table,
// aligned F32 tensor data); what a model puts in it belongs to the caller
// (see package testmodel).
//
// Layout, little-endian: "GGUF", version uint32 (3), tensor count uint64,
// metadata count uint64; each metadata entry as key string, value type
// uint32, value; each tensor as name string, dimension count uint32,
// dimensions uint64 (innermost first, ggml's ne[0]), type uint32, offset
// uint64 into the data section; padding to Alignment; the data of each
// tensor, each padded to Alignment. A string is a uint64 length and bytes;
// an array is an element type uint32, a count uint64 and the elements.
package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Alignment is the byte alignment of the data section and of each tensor,
// GGUF's default (general.alignment unset).
const Alignment = 32

// Metadata value types of GGUF.
const (
	typeUint32  uint32 = 4
	typeInt32   uint32 = 5
	typeFloat32 uint32 = 6
	typeBool    uint32 = 7
	typeString  uint32 = 8
	typeArray   uint32 = 9
	typeUint64  uint32 = 10
)

// tensorF32 is ggml's type id of 32-bit float tensors.
const tensorF32 uint32 = 0

// KV is one metadata entry. Value is one of uint32, int32, float32, bool,
// string, uint64, []string, []float32 or []int32; Write rejects others.
type KV struct {
	// Key is the dotted metadata key, e.g. "llama.block_count".
	Key string
	// Value is the entry's value.
	Value any
}

// Tensor is one F32 tensor.
type Tensor struct {
	// Name is the tensor name, e.g. "blk.0.attn_q.weight".
	Name string
	// Dims are the dimensions innermost first (ggml's ne): a weight
	// matrix with R rows of C floats has Dims {C, R}.
	Dims []uint64
	// Data holds the product of Dims floats, row-major.
	Data []float32
}

// File is a GGUF file's content. Entries and tensors are written in order.
type File struct {
	// KV is the metadata.
	KV []KV
	// Tensors are the model weights.
	Tensors []Tensor
}

// Write writes f to w as GGUF version 3. It fails when a value has an
// unsupported type, a tensor's data does not match its dimensions, or w
// fails.
func (f *File) Write(w io.Writer) error {
	if err := f.check(); err != nil {
		return err
	}
	bw := &writer{w: bufio.NewWriterSize(w, 1<<16)}
	bw.raw([]byte("GGUF"))
	bw.u32(3)
	bw.u64(uint64(len(f.Tensors)))
	bw.u64(uint64(len(f.KV)))
	for _, kv := range f.KV {
		bw.str(kv.Key)
		bw.value(kv.Value)
	}
	var offset uint64
	for _, t := range f.Tensors {
		bw.str(t.Name)
		bw.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			bw.u64(d)
		}
		bw.u32(tensorF32)
		bw.u64(offset)
		offset += pad(uint64(len(t.Data)) * 4)
	}
	bw.zeros(pad(bw.n) - bw.n)
	for _, t := range f.Tensors {
		for _, x := range t.Data {
			bw.u32(math.Float32bits(x))
		}
		bw.zeros(pad(bw.n) - bw.n)
	}
	if bw.err == nil {
		bw.err = bw.w.Flush()
	}
	if bw.err != nil {
		return fmt.Errorf("gguf: write: %w", bw.err)
	}
	return nil
}

// check validates value types and tensor sizes before anything is written.
func (f *File) check() error {
	for _, kv := range f.KV {
		if kindOf(kv.Value) == 0 {
			return fmt.Errorf("gguf: key %q: unsupported value type %T", kv.Key, kv.Value)
		}
	}
	for _, t := range f.Tensors {
		n := uint64(1)
		for _, d := range t.Dims {
			n *= d
		}
		if len(t.Dims) == 0 || n != uint64(len(t.Data)) {
			return fmt.Errorf("gguf: tensor %q: %d floats for dims %v", t.Name, len(t.Data), t.Dims)
		}
	}
	return nil
}

// kindOf returns the GGUF type of a supported value, 0 for others.
func kindOf(v any) uint32 {
	switch v.(type) {
	case uint32:
		return typeUint32
	case int32:
		return typeInt32
	case float32:
		return typeFloat32
	case bool:
		return typeBool
	case string:
		return typeString
	case uint64:
		return typeUint64
	case []string, []float32, []int32:
		return typeArray
	}
	return 0
}

// pad rounds n up to a multiple of Alignment.
func pad(n uint64) uint64 {
	return (n + Alignment - 1) / Alignment * Alignment
}

// writer counts bytes and keeps the first error, so Write reads as a list
// of fields.
type writer struct {
	w   *bufio.Writer
	n   uint64
	err error
	buf [8]byte
}

func (w *writer) raw(p []byte) {
	if w.err != nil {
		return
	}
	var k int
	k, w.err = w.w.Write(p)
	w.n += uint64(k)
}

func (w *writer) u32(v uint32) {
	binary.LittleEndian.PutUint32(w.buf[:4], v)
	w.raw(w.buf[:4])
}

func (w *writer) u64(v uint64) {
	binary.LittleEndian.PutUint64(w.buf[:8], v)
	w.raw(w.buf[:8])
}

func (w *writer) str(s string) {
	w.u64(uint64(len(s)))
	w.raw([]byte(s))
}

func (w *writer) zeros(n uint64) {
	for ; n > 0; n-- {
		w.raw([]byte{0})
	}
}

// value writes a value's type and the value.
func (w *writer) value(v any) {
	w.u32(kindOf(v))
	switch v := v.(type) {
	case uint32:
		w.u32(v)
	case int32:
		w.u32(uint32(v))
	case float32:
		w.u32(math.Float32bits(v))
	case bool:
		w.raw([]byte{boolByte(v)})
	case string:
		w.str(v)
	case uint64:
		w.u64(v)
	case []string:
		w.u32(typeString)
		w.u64(uint64(len(v)))
		for _, s := range v {
			w.str(s)
		}
	case []float32:
		w.u32(typeFloat32)
		w.u64(uint64(len(v)))
		for _, x := range v {
			w.u32(math.Float32bits(x))
		}
	case []int32:
		w.u32(typeInt32)
		w.u64(uint64(len(v)))
		for _, x := range v {
			w.u32(uint32(x))
		}
	}
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
