// Package testmodel builds flexrec's tiny test model: a llama-architecture
// GGUF whose next-token distribution depends on the last token only, so
// its weights are a Markov chain over tokens, and that chain is a
// stochastic ranking policy over the short ids [1]..[IDs]. Ollama serves it
// like any model (see scripts/ollama-test-server.sh), which lets the llm
// tests sample real rollouts with real logprobs on a CPU in milliseconds.
//
// How the weights make a Markov chain: token embeddings are one-hot
// (embedding size d >= vocabulary size), every attention-output and
// FFN-down weight is zero, so each layer adds nothing to the residual
// stream, which stays the one-hot vector of the current token t. The final
// RMS norm scales it to c = 1/sqrt(1/d + eps), so the logit of token v is
// c * output[v][t]: column t of the output matrix holds the log
// transition probabilities out of t (divided by c).
//
// The policy follows a hidden preference order (Model.Order) and at each
// step may swap the next two items, jump to a random id (duplicates and
// gaps), emit a bare separator followed by a random or byte-spelled id
// ("[4", "2]"), stop early, or add stray text ("Here is my ranking:\n"
// before, " etc." or " Done." after). Seeds therefore give different
// rollouts, and about half of them are clean permutations.
package testmodel

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
)

// Config shapes the policy. Probabilities are per step, in [0, 1).
type Config struct {
	// IDs is the number of short ids [1]..[IDs] the policy ranks, 2–99.
	// Default 30, the paper's candidate set size.
	IDs int
	// Seed draws the hidden preference order. Default 1.
	Seed uint64
	// Swap is the chance of naming the item after next first (then the
	// skipped one): a local reordering that keeps the list valid.
	// Default 0.15.
	Swap float64
	// Noise is the chance of a step that breaks the list: a jump to a random
	// id (half of it), a bare separator then a random or byte-spelled id
	// (20%), a cut-off (15%) or stray text then the end (15%). Default 0.02.
	Noise float64
	// Prefix is the chance that the answer opens with stray text
	// "Here is my ranking:\n". Default 0.1.
	Prefix float64
}

// DefaultConfig returns the configuration the test server's model uses.
func DefaultConfig() Config {
	return Config{IDs: 30, Seed: 1, Swap: 0.15, Noise: 0.02, Prefix: 0.1}
}

// Validate reports a configuration that cannot make a model.
func (c Config) Validate() error {
	if c.IDs < 2 || c.IDs > 99 {
		return fmt.Errorf("testmodel: ids %d outside 2..99", c.IDs)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"swap", c.Swap}, {"noise", c.Noise}, {"prefix", c.Prefix}} {
		if !(p.v >= 0 && p.v < 1) {
			return fmt.Errorf("testmodel: %s %v outside [0, 1)", p.name, p.v)
		}
	}
	if c.Swap+c.Noise >= 1 {
		return fmt.Errorf("testmodel: swap %v + noise %v leave no room to follow the order", c.Swap, c.Noise)
	}
	return nil
}

// Architecture constants of the model. Attention is one head of width 8
// (llama.cpp's attention.key_length), not d/heads: its weights are zero
// anyway, and a narrow head keeps the prompt's n² attention cheap.
const (
	padTo    = 64 // the embedding size is the vocabulary padded to this
	headDim  = 8
	ffLen    = 8
	blocks   = 2
	ctxLen   = 8192
	rmsEps   = 1e-6
	floorLog = -40.0 // the logit of tokens the chain never emits
)

// GGUF token types (llama.cpp's llama_token_type).
const (
	typeNormal  = 1
	typeUnknown = 2
	typeControl = 3
	typeUnused  = 5
	typeByte    = 6
)

// edge is one transition with its probability.
type edge struct {
	to int
	p  float64
}

// Model is a built test model. It is immutable and safe for concurrent use.
type Model struct {
	cfg    Config
	tokens []string // GGUF token texts
	types  []int32
	pieces []string // decoded texts, as Ollama reports them
	byText map[string]int
	order  []int // preference order of short ids, best first
	rows   [][]edge
	start  int
	dim    int
}

// New builds the model for cfg.
func New(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{cfg: cfg, byText: map[string]int{}}
	m.buildVocab()
	r := rand.New(rand.NewPCG(cfg.Seed, 0x666c657872656321))
	m.order = r.Perm(cfg.IDs)
	for i := range m.order {
		m.order[i]++
	}
	m.buildChain()
	return m, nil
}

// Order returns the hidden preference order: short ids (1-based), best
// first. Noise-free rollouts name the ids in this order.
func (m *Model) Order() []int { return slices.Clone(m.order) }

// Start returns the id of the control token "<|answer|>" that ends the
// chat template: the chain's initial state.
func (m *Model) Start() int { return m.start }

// Piece returns the text Ollama reports for token id: the GGUF text with
// "▁" as a space, the byte of a byte token, the text of a control token,
// and "" for padding tokens.
func (m *Model) Piece(id int) string { return m.pieces[id] }

// VocabSize returns the number of tokens.
func (m *Model) VocabSize() int { return len(m.tokens) }

func (m *Model) add(text string, typ int32) int {
	id := len(m.tokens)
	m.tokens = append(m.tokens, text)
	m.types = append(m.types, typ)
	piece := strings.ReplaceAll(text, "▁", " ")
	switch typ {
	case typeByte:
		var b byte
		_, _ = fmt.Sscanf(text, "<0x%02X>", &b) // the text was made by Sprintf below
		piece = string([]byte{b})
	case typeUnused:
		piece = ""
	}
	m.pieces = append(m.pieces, piece)
	m.byText[text] = id
	return id
}

// buildVocab lays out <unk> <s> </s>, the 256 byte tokens, the answer
// token, the id and separator pieces, stray words, and padding up to a
// multiple of padTo (the embedding size).
func (m *Model) buildVocab() {
	m.add("<unk>", typeUnknown)
	m.add("<s>", typeControl)
	m.add("</s>", typeControl)
	for b := range 256 {
		m.add(fmt.Sprintf("<0x%02X>", b), typeByte)
	}
	m.start = m.add("<|answer|>", typeControl)
	for k := 1; k <= m.cfg.IDs; k++ {
		m.add(fmt.Sprintf("[%d]", k), typeNormal)
		// Three spellings of " > [k]" that decode alike: the token, not the
		// text, carries the chain's state (after a swap or not).
		m.add(fmt.Sprintf("▁>▁[%d]", k), typeNormal)
		m.add(fmt.Sprintf(" > [%d]", k), typeNormal)
		m.add(fmt.Sprintf("▁> [%d]", k), typeNormal)
	}
	for _, w := range []string{"▁>▁", "Here", "▁is", "▁my", "▁ranking", "▁etc.", "▁Done."} {
		m.add(w, typeNormal)
	}
	m.dim = (len(m.tokens) + padTo - 1) / padTo * padTo
	for i := 0; len(m.tokens) < m.dim; i++ {
		m.add(fmt.Sprintf("<unused%d>", i), typeUnused)
	}
}

// tok returns the id of a GGUF token text; the texts are this file's own.
func (m *Model) tok(text string) int {
	id, ok := m.byText[text]
	if !ok {
		panic("testmodel: no token " + text) // a bug in this package, not input
	}
	return id
}

func (m *Model) byteTok(b byte) int { return m.tok(fmt.Sprintf("<0x%02X>", b)) }
func (m *Model) first(k int) int    { return m.tok(fmt.Sprintf("[%d]", k)) }
func (m *Model) sepA(k int) int     { return m.tok(fmt.Sprintf("▁>▁[%d]", k)) }
func (m *Model) sepB(k int) int     { return m.tok(fmt.Sprintf(" > [%d]", k)) }
func (m *Model) sepC(k int) int     { return m.tok(fmt.Sprintf("▁> [%d]", k)) }
func (m *Model) eos() int           { return m.tok("</s>") }

// WriteGGUF writes the model as an F32 GGUF file.
func (m *Model) WriteGGUF(w io.Writer) error {
	return m.file().Write(w)
}

// Modelfile returns an Ollama Modelfile for the GGUF at ggufPath: a chat
// template ending in "assistant:<|answer|>" (the answer token is never part
// of an answer, so the first generated token always leaves the start state)
// and sampling parameters that make Ollama sample the chain itself
// (temperature 1, no top-k/top-p cut, no repeat penalty).
func Modelfile(ggufPath string) string {
	return fmt.Sprintf(`FROM %s
TEMPLATE """{{- range .Messages }}{{ .Role }}: {{ .Content }}
{{ end }}assistant:<|answer|>"""
PARAMETER temperature 1
PARAMETER top_k 1000
PARAMETER top_p 1
PARAMETER min_p 0
PARAMETER repeat_penalty 1
PARAMETER num_thread 1
PARAMETER num_ctx %d
`, ggufPath, ctxLen)
}
