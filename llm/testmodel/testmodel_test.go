package testmodel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ollama/ollama/fs/ggml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newModel(t testing.TB, cfg Config) *Model {
	t.Helper()
	m, err := New(cfg)
	require.NoError(t, err, "New(%+v)", cfg)
	return m
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"default", func(*Config) {}, true},
		{"one id", func(c *Config) { c.IDs = 1 }, false},
		{"100 ids", func(c *Config) { c.IDs = 100 }, false},
		{"negative swap", func(c *Config) { c.Swap = -0.1 }, false},
		{"NaN noise", func(c *Config) { c.Noise = math.NaN() }, false},
		{"prefix 1", func(c *Config) { c.Prefix = 1 }, false},
		{"swap+noise 1", func(c *Config) { c.Swap, c.Noise = 0.5, 0.5 }, false},
		{"noise-free", func(c *Config) { c.Swap, c.Noise, c.Prefix = 0, 0, 0 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, "testmodel: ")
			}
		})
	}
}

// TestRowsAreDistributions checks every state's transitions sum to 1 and
// that Logprob normalizes over the vocabulary.
func TestRowsAreDistributions(t *testing.T) {
	m := newModel(t, DefaultConfig())
	assert.Zero(t, m.dim%padTo, "embedding size %d", m.dim)
	assert.GreaterOrEqual(t, m.dim, m.VocabSize())
	for s, row := range m.rows {
		var sum float64
		for _, e := range row {
			require.Positive(t, e.p, "state %d edge to %d", s, e.to)
			sum += e.p
		}
		assert.InDelta(t, 1, sum, 1e-9, "state %d (%q)", s, m.tokens[s])
	}
	for _, s := range []int{m.Start(), m.first(3), m.sepB(5)} {
		var total float64
		for v := range m.VocabSize() {
			total += math.Exp(m.Logprob(s, v))
		}
		assert.InDelta(t, 1, total, 1e-6, "sum of exp(Logprob(%d, v))", s)
	}
}

// TestNoiseFreeFollowsOrder: without swaps and noise, every rollout names
// the hidden order exactly, in the answer format.
func TestNoiseFreeFollowsOrder(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Swap, cfg.Noise, cfg.Prefix = 0, 0, 0
	m := newModel(t, cfg)
	var ids []string
	for _, k := range m.Order() {
		ids = append(ids, fmt.Sprintf("[%d]", k))
	}
	want := strings.Join(ids, " > ")
	for seed := range uint64(3) {
		pieces, lps, finish := m.Generate(seed, 0)
		assert.Equal(t, want, strings.Join(pieces, ""), "seed %d", seed)
		assert.Equal(t, "stop", finish)
		for i, lp := range lps {
			assert.InDelta(t, 0, lp, 1e-6, "seed %d token %d logprob of a certain step", seed, i)
		}
	}
}

var listRE = regexp.MustCompile(`\[(\d+)\]`)

// isPermutation reports whether text names each of 1..n exactly once.
func isPermutation(text string, n int) bool {
	seen := map[int]bool{}
	for _, m := range listRE.FindAllStringSubmatch(text, -1) {
		k, _ := strconv.Atoi(m[1])
		if k < 1 || k > n || seen[k] {
			return false
		}
		seen[k] = true
	}
	return len(seen) == n
}

// TestDefaultPolicyIsStochastic samples many rollouts: they differ, about
// half are clean permutations, and the rest show each kind of defect.
func TestDefaultPolicyIsStochastic(t *testing.T) {
	m := newModel(t, DefaultConfig())
	const n = 400
	texts := map[string]bool{}
	valid, prefixed, cut := 0, 0, 0
	for seed := range uint64(n) {
		pieces, lps, _ := m.Generate(seed, 0)
		text := strings.Join(pieces, "")
		texts[text] = true
		if isPermutation(text, 30) {
			valid++
		}
		if strings.HasPrefix(text, "Here is my ranking:\n") {
			prefixed++
		}
		if len(listRE.FindAllString(text, -1)) < 30 {
			cut++
		}
		require.NoError(t, m.Check(pieces, lps, 1e-9), "seed %d: %q", seed, text)
	}
	assert.Greater(t, len(texts), n*9/10, "distinct rollouts")
	assert.InDelta(t, 0.5, float64(valid)/n, 0.2, "share of clean permutations (%d of %d)", valid, n)
	assert.InDelta(t, 0.1, float64(prefixed)/n, 0.05, "share with the stray prefix")
	assert.Positive(t, cut, "no rollout was cut short")
}

func TestCheckRejects(t *testing.T) {
	m := newModel(t, DefaultConfig())
	pieces, lps, _ := m.Generate(7, 0)
	require.NotEmpty(t, pieces)
	require.NoError(t, m.Check(pieces, lps, 1e-6))

	bad := append([]float64(nil), lps...)
	bad[len(bad)/2] -= 0.5
	assert.ErrorContains(t, m.Check(pieces, bad, 1e-3), fmt.Sprintf("token %d", len(bad)/2))

	swapped := append([]string{"[99]"}, pieces[1:]...)
	assert.ErrorContains(t, m.Check(swapped, lps, 1e-3), "token 0")
	assert.Error(t, m.Check(pieces, lps[1:], 1e-3), "length mismatch")
}

// TestGGUFForwardPass decodes the GGUF with Ollama's reader and runs the
// model's forward pass in float64 from the decoded tensors (embedding,
// RMS norm, output projection; the zero blocks add nothing): the log
// softmax must match Logprob, which checks the tensor layout and scale.
func TestGGUFForwardPass(t *testing.T) {
	m := newModel(t, DefaultConfig())
	var buf bytes.Buffer
	require.NoError(t, m.WriteGGUF(&buf))
	g, err := ggml.Decode(bytes.NewReader(buf.Bytes()), -1)
	require.NoError(t, err)
	kv := g.KV()
	assert.Equal(t, "llama", kv.Architecture())
	assert.Equal(t, uint64(m.dim), kv.EmbeddingLength())
	assert.Len(t, kv.Strings("tokenizer.ggml.tokens"), m.VocabSize())

	tensors := map[string][]float64{}
	ts := g.Tensors()
	for _, tt := range ts.Items() {
		data := make([]float64, tt.Elements())
		for i := range data {
			off := ts.Offset + tt.Offset + uint64(4*i)
			data[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(buf.Bytes()[off:])))
		}
		tensors[tt.Name] = data
		if strings.Contains(tt.Name, "attn_output") || strings.Contains(tt.Name, "ffn_down") {
			for _, x := range data {
				require.Zero(t, x, "%s must be zero", tt.Name)
			}
		}
	}
	d, v := m.dim, m.VocabSize()
	eps := float64(kv.Float("attention.layer_norm_rms_epsilon"))
	for _, s := range []int{m.Start(), m.first(m.Order()[0]), m.sepC(4), m.byteTok('[')} {
		x := tensors["token_embd.weight"][s*d : (s+1)*d]
		var ms float64
		for _, xi := range x {
			ms += xi * xi
		}
		norm := 1 / math.Sqrt(ms/float64(d)+eps)
		logits := make([]float64, v)
		for tok := range v {
			for j := range d {
				logits[tok] += tensors["output.weight"][tok*d+j] * x[j] * norm * tensors["output_norm.weight"][j]
			}
		}
		lse := logSumExp(logits)
		for tok := range v {
			require.InDelta(t, m.Logprob(s, tok), logits[tok]-lse, 1e-4, "state %d token %d", s, tok)
		}
	}
}

func TestModelfile(t *testing.T) {
	mf := Modelfile("/tmp/x.gguf")
	assert.True(t, strings.HasPrefix(mf, "FROM /tmp/x.gguf\n"))
	assert.Contains(t, mf, `assistant:<|answer|>"""`)
	assert.Contains(t, mf, "PARAMETER repeat_penalty 1\n")
}

func TestPieces(t *testing.T) {
	m := newModel(t, DefaultConfig())
	assert.Equal(t, " > [4]", m.Piece(m.sepA(4)))
	assert.Equal(t, " > [4]", m.Piece(m.sepB(4)))
	assert.Equal(t, " > [4]", m.Piece(m.sepC(4)))
	assert.Equal(t, "\n", m.Piece(m.byteTok('\n')))
	assert.Equal(t, "<|answer|>", m.Piece(m.Start()))
	assert.Equal(t, "", m.Piece(m.VocabSize()-1), "padding token")
}

func TestGreedyIsTheOrder(t *testing.T) {
	m := newModel(t, DefaultConfig())
	var ids []string
	for _, k := range m.Order() {
		ids = append(ids, fmt.Sprintf("[%d]", k))
	}
	pieces, lps, finish := m.Greedy(0)
	assert.Equal(t, strings.Join(ids, " > "), strings.Join(pieces, ""))
	assert.Equal(t, "stop", finish)
	require.NoError(t, m.Check(pieces, lps, 1e-9))
	_, _, finish = m.Greedy(3)
	assert.Equal(t, "length", finish)
}
