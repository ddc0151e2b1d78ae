package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/ollama/ollama/fs/ggml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteDecodesWithOllama checks the writer against an independent
// reader: Ollama's own GGUF decoder.
func TestWriteDecodesWithOllama(t *testing.T) {
	f := &File{
		KV: []KV{
			{"general.architecture", "llama"},
			{"llama.block_count", uint32(2)},
			{"llama.attention.layer_norm_rms_epsilon", float32(1e-6)},
			{"tokenizer.ggml.add_bos_token", true},
			{"tokenizer.ggml.tokens", []string{"<unk>", "a", "▁b"}},
			{"tokenizer.ggml.scores", []float32{0, -1, -2.5}},
			{"tokenizer.ggml.token_type", []int32{2, 1, 1}},
		},
		Tensors: []Tensor{
			{Name: "odd.weight", Dims: []uint64{3}, Data: []float32{1, 2, 3}},
			{Name: "m.weight", Dims: []uint64{2, 3}, Data: []float32{0.5, -1, 2, 3, 4, 5}},
		},
	}
	var buf bytes.Buffer
	require.NoError(t, f.Write(&buf))
	g, err := ggml.Decode(bytes.NewReader(buf.Bytes()), -1)
	require.NoError(t, err, "ggml.Decode")

	kv := g.KV()
	assert.Equal(t, "llama", kv.Architecture())
	assert.Equal(t, uint64(2), kv.BlockCount())
	assert.InDelta(t, 1e-6, kv.Float("attention.layer_norm_rms_epsilon"), 1e-12)
	assert.True(t, kv.Bool("tokenizer.ggml.add_bos_token"))
	assert.Equal(t, []string{"<unk>", "a", "▁b"}, kv.Strings("tokenizer.ggml.tokens"))
	assert.Equal(t, []float32{0, -1, -2.5}, kv.Floats("tokenizer.ggml.scores"))
	assert.Equal(t, []int32{2, 1, 1}, kv.Ints("tokenizer.ggml.token_type"))

	ts := g.Tensors()
	require.Len(t, ts.Items(), 2)
	assert.Equal(t, uint64(0), ts.Offset%Alignment, "data section offset %d not aligned", ts.Offset)
	for i, want := range f.Tensors {
		got := ts.Items()[i]
		assert.Equal(t, want.Name, got.Name)
		assert.Equal(t, want.Dims, got.Shape)
		assert.Equal(t, uint64(0), got.Offset%Alignment, "tensor %s offset", got.Name)
		start := ts.Offset + got.Offset
		for j, x := range want.Data {
			bits := binary.LittleEndian.Uint32(buf.Bytes()[start+uint64(4*j):])
			assert.Equal(t, x, math.Float32frombits(bits), "tensor %s element %d", got.Name, j)
		}
	}
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name string
		f    File
	}{
		{"unsupported value", File{KV: []KV{{"x", 1.5}}}},
		{"data size", File{Tensors: []Tensor{{Name: "t", Dims: []uint64{2, 2}, Data: []float32{1, 2, 3}}}}},
		{"no dims", File{Tensors: []Tensor{{Name: "t", Data: []float32{1}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := tt.f.Write(&buf)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "gguf: ")
			assert.Zero(t, buf.Len(), "nothing may be written on a rejected file")
		})
	}
}
