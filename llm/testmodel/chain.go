package testmodel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/flexrec/flexrec/llm/internal/gguf"
)

// buildChain fills one row of transitions per token. Rows left empty
// behave like the start state, so any prompt ending starts an answer.
func (m *Model) buildChain() {
	m.rows = make([][]edge, len(m.tokens))
	pos := make([]int, m.cfg.IDs+1)
	for i, k := range m.order {
		pos[k] = i
	}
	for k := 1; k <= m.cfg.IDs; k++ {
		at := m.atRow(pos[k])
		m.rows[m.first(k)] = at
		m.rows[m.sepA(k)] = at
		if pos[k] > 0 { // B: k was named early; now the skipped item
			m.rows[m.sepB(k)] = m.swapBackRow(m.order[pos[k]-1])
		}
		if pos[k]+1 < m.cfg.IDs { // C: the skipped item; go on after its successor
			m.rows[m.sepC(k)] = m.atRow(pos[k] + 1)
		}
	}
	m.rows[m.start] = m.startRow()
	m.prefixRows()
	m.byteRows()
	for _, w := range []string{"▁etc.", "▁Done.", "</s>"} {
		m.rows[m.tok(w)] = []edge{{m.eos(), 1}}
	}
	for i, r := range m.rows { // drop the zero-probability edges a zero config makes
		m.rows[i] = slices.DeleteFunc(slices.Clone(r), func(e edge) bool { return e.p <= 0 })
	}
	for i, r := range m.rows {
		if len(r) == 0 {
			m.rows[i] = m.rows[m.start]
		}
	}
}

// randomIDs spreads p over tokens made by tokOf for every id but skip.
func (m *Model) randomIDs(p float64, skip int, tokOf func(int) int) []edge {
	n := m.cfg.IDs
	if skip > 0 {
		n--
	}
	var es []edge
	for k := 1; k <= m.cfg.IDs; k++ {
		if k != skip {
			es = append(es, edge{tokOf(k), p / float64(n)})
		}
	}
	return es
}

// atRow is the state after naming the item at position i of the order.
func (m *Model) atRow(i int) []edge {
	noise := m.cfg.Noise
	if i == m.cfg.IDs-1 { // the last item: end, rarely with stray text or more ids
		es := m.randomIDs(noise/2, 0, m.sepA)
		return append(es, edge{m.tok("▁Done."), noise / 2}, edge{m.eos(), 1 - noise})
	}
	next := m.order[i+1]
	swap := m.cfg.Swap
	if i+2 >= m.cfg.IDs {
		swap = 0
	}
	es := []edge{{m.sepA(next), 1 - swap - noise}}
	if swap > 0 {
		es = append(es, edge{m.sepB(m.order[i+2]), swap})
	}
	es = append(es, m.randomIDs(noise*0.5, next, m.sepA)...)
	return append(es,
		edge{m.tok("▁>▁"), noise * 0.2},
		edge{m.eos(), noise * 0.15},
		edge{m.tok("▁etc."), noise * 0.15})
}

// swapBackRow is the state after naming an item early: name the skipped
// one (spelling C), or rarely break off.
func (m *Model) swapBackRow(skipped int) []edge {
	noise := m.cfg.Noise
	es := m.randomIDs(noise/2, skipped, m.sepA)
	return append(es, edge{m.sepC(skipped), 1 - noise}, edge{m.eos(), noise / 2})
}

// startRow opens the answer: usually the best item, sometimes stray text
// first, a random first item, a byte-spelled id or nothing.
func (m *Model) startRow() []edge {
	noise, best := m.cfg.Noise, m.order[0]
	es := []edge{{m.first(best), 1 - m.cfg.Prefix - 2*noise}, {m.tok("Here"), m.cfg.Prefix}}
	es = append(es, m.randomIDs(noise, best, m.first)...)
	return append(es, edge{m.byteTok('['), noise * 0.75}, edge{m.eos(), noise * 0.25})
}

// prefixRows spell "Here is my ranking:\n" and then start the list.
func (m *Model) prefixRows() {
	words := []int{m.tok("Here"), m.tok("▁is"), m.tok("▁my"), m.tok("▁ranking"), m.byteTok(':'), m.byteTok('\n')}
	for i := 0; i+1 < len(words); i++ {
		m.rows[words[i]] = []edge{{words[i+1], 1}}
	}
	best := m.order[0]
	es := []edge{{m.first(best), 1 - m.cfg.Noise}}
	m.rows[m.byteTok('\n')] = append(es, m.randomIDs(m.cfg.Noise, best, m.first)...)
}

// byteRows make a bare separator lead to a random id, whole or spelled in
// bytes ("[", digits, "]"), which may name an id out of range.
func (m *Model) byteRows() {
	sep := m.tok("▁>▁")
	m.rows[sep] = append(m.randomIDs(0.85, 0, m.first), edge{m.byteTok('['), 0.15})
	var digits []edge
	for d := byte('1'); d <= '9'; d++ {
		digits = append(digits, edge{m.byteTok(d), 1.0 / 9})
	}
	m.rows[m.byteTok('[')] = digits
	for d := byte('0'); d <= '9'; d++ {
		es := []edge{{m.byteTok(']'), 0.7}}
		for e := byte('0'); e <= '9'; e++ {
			es = append(es, edge{m.byteTok(e), 0.03})
		}
		m.rows[m.byteTok(d)] = es
	}
	m.rows[m.byteTok(']')] = []edge{{sep, 0.7}, {m.eos(), 0.3}}
}

// logits returns the designed logits out of state s: log p for the
// chain's transitions, floorLog for every other token.
func (m *Model) logits(s int) []float64 {
	l := make([]float64, len(m.tokens))
	for i := range l {
		l[i] = floorLog
	}
	for _, e := range m.rows[s] {
		l[e.to] = math.Log(e.p)
	}
	return l
}

// scale is the final RMS norm's output for a one-hot residual.
func (m *Model) scale() float64 {
	return 1 / math.Sqrt(1/float64(m.dim)+rmsEps)
}

// Logprob returns the natural-log probability that the model (as written
// to GGUF, with its float32 weights) gives token next after token prev.
func (m *Model) Logprob(prev, next int) float64 {
	c := m.scale()
	l := m.logits(prev)
	for i := range l {
		l[i] = float64(float32(l[i]/c)) * c // what the F32 weights give back
	}
	return l[next] - logSumExp(l)
}

func logSumExp(xs []float64) float64 {
	mx := math.Inf(-1)
	for _, x := range xs {
		mx = max(mx, x)
	}
	var s float64
	for _, x := range xs {
		s += math.Exp(x - mx)
	}
	return mx + math.Log(s)
}

// Check reports whether a sampled completion fits the model: each piece
// must be the text of a token the chain can emit from some state the
// previous pieces allow, with a logprob within tol of the reported one.
// Several tokens share a text, so Check tracks every state consistent with
// the pieces so far. It returns nil when some path fits, else an error
// naming the first position that fits no path.
func (m *Model) Check(pieces []string, logprobs []float64, tol float64) error {
	if len(pieces) != len(logprobs) {
		return fmt.Errorf("testmodel: %d pieces, %d logprobs", len(pieces), len(logprobs))
	}
	states := map[int]bool{m.start: true}
	for i, piece := range pieces {
		next := map[int]bool{}
		for s := range states {
			for _, e := range m.rows[s] {
				if m.pieces[e.to] == piece && math.Abs(m.Logprob(s, e.to)-logprobs[i]) <= tol {
					next[e.to] = true
				}
			}
		}
		if len(next) == 0 {
			return fmt.Errorf("testmodel: token %d %q with logprob %.4f fits no path of the chain", i, piece, logprobs[i])
		}
		states = next
	}
	return nil
}

// file lays out the GGUF: metadata for llama.cpp's llama loader and SPM
// ("llama") tokenizer, and the weights described in the package doc.
func (m *Model) file() *gguf.File {
	d, v := uint64(m.dim), uint64(len(m.tokens))
	f := &gguf.File{KV: m.metadata()}
	ones := func() []float32 {
		x := make([]float32, d)
		for i := range x {
			x[i] = 1
		}
		return x
	}
	embd := make([]float32, v*d)
	for t := range v {
		embd[t*d+t] = 1
	}
	f.Tensors = append(f.Tensors,
		gguf.Tensor{Name: "token_embd.weight", Dims: []uint64{d, v}, Data: embd},
		gguf.Tensor{Name: "output_norm.weight", Dims: []uint64{d}, Data: ones()},
		gguf.Tensor{Name: "output.weight", Dims: []uint64{d, v}, Data: m.outputWeights()})
	zeros := func(in, out uint64) gguf.Tensor {
		return gguf.Tensor{Dims: []uint64{in, out}, Data: make([]float32, in*out)}
	}
	for b := range blocks {
		add := func(name string, t gguf.Tensor) {
			t.Name = fmt.Sprintf("blk.%d.%s.weight", b, name)
			f.Tensors = append(f.Tensors, t)
		}
		add("attn_norm", gguf.Tensor{Dims: []uint64{d}, Data: ones()})
		add("attn_q", zeros(d, headDim))
		add("attn_k", zeros(d, headDim))
		add("attn_v", zeros(d, headDim))
		add("attn_output", zeros(headDim, d))
		add("ffn_norm", gguf.Tensor{Dims: []uint64{d}, Data: ones()})
		add("ffn_gate", zeros(d, ffLen))
		add("ffn_up", zeros(d, ffLen))
		add("ffn_down", zeros(ffLen, d))
	}
	return f
}

// outputWeights holds, in row v and column s, the logit of v after s
// divided by the norm's scale.
func (m *Model) outputWeights() []float32 {
	d, c := m.dim, m.scale()
	w := make([]float32, len(m.tokens)*d)
	for s := range m.tokens {
		for v, l := range m.logits(s) {
			w[v*d+s] = float32(l / c)
		}
	}
	return w
}

func (m *Model) metadata() []gguf.KV {
	n := len(m.tokens)
	scores := make([]float32, n)
	return []gguf.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.name", Value: "flexrec-tiny"},
		{Key: "general.file_type", Value: uint32(0)}, // all F32
		{Key: "llama.vocab_size", Value: uint32(n)},
		{Key: "llama.context_length", Value: uint32(ctxLen)},
		{Key: "llama.embedding_length", Value: uint32(m.dim)},
		{Key: "llama.block_count", Value: uint32(blocks)},
		{Key: "llama.feed_forward_length", Value: uint32(ffLen)},
		{Key: "llama.attention.head_count", Value: uint32(1)},
		{Key: "llama.attention.head_count_kv", Value: uint32(1)},
		{Key: "llama.attention.key_length", Value: uint32(headDim)},
		{Key: "llama.attention.value_length", Value: uint32(headDim)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: float32(rmsEps)},
		{Key: "llama.rope.dimension_count", Value: uint32(headDim)},
		{Key: "llama.rope.freq_base", Value: float32(10000)},
		{Key: "tokenizer.ggml.model", Value: "llama"},
		{Key: "tokenizer.ggml.tokens", Value: m.tokens},
		{Key: "tokenizer.ggml.scores", Value: scores},
		{Key: "tokenizer.ggml.token_type", Value: m.types},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(m.tok("<s>"))},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(m.eos())},
		{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(0)},
		{Key: "tokenizer.ggml.add_bos_token", Value: true},
		{Key: "tokenizer.ggml.add_eos_token", Value: false},
		{Key: "tokenizer.ggml.add_space_prefix", Value: false},
	}
}

// Generate samples a completion from the chain with its own generator
// (not Ollama's sampler): the pieces, their logprobs and the finish reason,
// "stop" at the end-of-sequence token or "length" after maxTokens tokens
// (maxTokens <= 0 means 512). The same seed gives the same completion.
func (m *Model) Generate(seed uint64, maxTokens int) (pieces []string, logprobs []float64, finish string) {
	if maxTokens <= 0 {
		maxTokens = 512
	}
	r := rand.New(rand.NewPCG(seed, 0x67656e6572617465))
	s := m.start
	for range maxTokens {
		next := m.draw(m.rows[s], r.Float64())
		if next == m.eos() {
			return pieces, logprobs, "stop"
		}
		pieces = append(pieces, m.pieces[next])
		logprobs = append(logprobs, m.Logprob(s, next))
		s = next
	}
	return pieces, logprobs, "length"
}

// draw picks the edge whose cumulative probability passes u in [0, 1).
func (m *Model) draw(es []edge, u float64) int {
	for _, e := range es {
		if u < e.p {
			return e.to
		}
		u -= e.p
	}
	return es[len(es)-1].to
}

// Greedy returns the completion that always takes the most likely token
// (the first of equals), as a server does at temperature 0: the hidden
// order, in the answer format, unless the noise outweighs following it.
func (m *Model) Greedy(maxTokens int) (pieces []string, logprobs []float64, finish string) {
	if maxTokens <= 0 {
		maxTokens = 512
	}
	s := m.start
	for range maxTokens {
		best := m.rows[s][0]
		for _, e := range m.rows[s][1:] {
			if e.p > best.p {
				best = e
			}
		}
		if best.to == m.eos() {
			return pieces, logprobs, "stop"
		}
		pieces = append(pieces, m.pieces[best.to])
		logprobs = append(logprobs, m.Logprob(s, best.to))
		s = best.to
	}
	return pieces, logprobs, "length"
}
