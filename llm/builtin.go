package llm

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/flexrec/flexrec/prompt"
)

// Subject is the episode behind a prompt, for backends that rank without
// reading text.
type Subject struct {
	// Episode is the episode the prompt was rendered from.
	Episode *prompt.Episode
	// Order maps short ids to candidates: [k+1] is Episode.Candidates[Order[k]].
	Order []int
}

// BuiltinConfig configures the builtin ranking policy.
type BuiltinConfig struct {
	// Score returns the base preference of a user for an item, e.g. a
	// trained mf.Model's Score. Required.
	Score func(user, item string) float64
	// Scale multiplies every logit (inverse temperature of the policy
	// itself), > 0. Default 2.
	Scale float64
	// NoveltyWeight is subtracted from an item's logit for each of its
	// categories seen in the history, under needs whose gain rule is
	// novel_engagement. Default 1.
	NoveltyWeight float64
	// TrendWeight multiplies log(1 + recent popularity) in the logit under
	// trend needs. Default 0.5.
	TrendWeight float64
	// Name is the model name reported; default "builtin-pl".
	Name string
}

// DefaultBuiltinConfig returns the documented defaults around score.
func DefaultBuiltinConfig(score func(user, item string) float64) BuiltinConfig {
	return BuiltinConfig{Score: score, Scale: 2, NoveltyWeight: 1, TrendWeight: 0.5, Name: "builtin-pl"}
}

// Builtin is a stochastic ranking policy that needs no language model:
// Plackett–Luce sampling over per-item logits
//
//	z_k = Scale · (score(u, i_k) − NoveltyWeight·overlap_k [explore] + TrendWeight·log(1+pop_k) [trend]) / T
//
// At each position p it draws item k among those left with probability
// exp(z_k) / Σ_{left} exp(z_j), and the token "[k]" carries that exact log
// probability; the separators " > " carry log probability 0. Its answer is
// in the same output contract as an LLM's, so every later stage treats it
// as any backend. Temperature 0 is greedy (all logprobs 0). It is safe for
// concurrent use.
type Builtin struct {
	cfg BuiltinConfig
}

// NewBuiltin returns the builtin policy, or an error for an invalid config.
func NewBuiltin(cfg BuiltinConfig) (*Builtin, error) {
	if cfg.Score == nil {
		return nil, fmt.Errorf("llm: builtin policy: no score function")
	}
	if !(cfg.Scale > 0) {
		return nil, fmt.Errorf("llm: builtin policy: scale %v, want > 0", cfg.Scale)
	}
	if cfg.Name == "" {
		cfg.Name = "builtin-pl"
	}
	return &Builtin{cfg: cfg}, nil
}

// Sample draws req.N rankings; sample i uses seed Seed+i (Seed 0 when nil).
// The request must carry a Subject.
func (b *Builtin) Sample(ctx context.Context, req *Request) (*Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sub := req.Subject
	if sub == nil || sub.Episode == nil || len(sub.Order) == 0 {
		return nil, fmt.Errorf("llm: builtin policy: request has no subject (episode and candidate order)")
	}
	start := time.Now()
	logits := b.logits(sub)
	temp := 1.0
	if req.Temperature != nil {
		temp = *req.Temperature
	}
	var seed int64
	if req.Seed != nil {
		seed = *req.Seed
	}
	resp := &Response{Model: b.cfg.Name, Fingerprint: b.cfg.Name + "/v1"}
	for i := range req.Samples() {
		s := seed + int64(i)
		smp := plackettLuce(logits, temp, rand.New(rand.NewPCG(uint64(s), 0x6275696c74696e)))
		smp.Seed = &s
		smp.Latency = time.Since(start)
		resp.Samples = append(resp.Samples, smp)
	}
	return resp, nil
}

// logits returns z_k before temperature for each short id k.
func (b *Builtin) logits(sub *Subject) []float64 {
	ep := sub.Episode
	need, _ := prompt.LookupNeed(ep.Need)
	seen := map[string]bool{}
	for _, h := range ep.History {
		for _, c := range h.Categories {
			seen[c] = true
		}
	}
	z := make([]float64, len(sub.Order))
	for k, idx := range sub.Order {
		c := &ep.Candidates[idx]
		s := b.cfg.Score(ep.UserID, c.ItemID)
		switch need.Gain.Rule {
		case prompt.RuleNovelEngagement:
			for _, cat := range c.Categories {
				if seen[cat] {
					s -= b.cfg.NoveltyWeight
				}
			}
		case prompt.RuleTrend:
			s += b.cfg.TrendWeight * math.Log1p(c.RecentPopularity)
		}
		z[k] = b.cfg.Scale * s
	}
	return z
}

// plackettLuce samples one permutation of the short ids and writes it in
// the output contract with exact token logprobs. Cost O(N²).
func plackettLuce(logits []float64, temp float64, rng *rand.Rand) Sample {
	n := len(logits)
	left := make([]int, n)
	for i := range left {
		left[i] = i
	}
	probs := make([]float64, n)
	var smp Sample
	for p := 0; p < n; p++ {
		pick, lp := choose(logits, left, probs[:len(left)], temp, rng)
		k := left[pick]
		left = slices.Delete(left, pick, pick+1)
		if p > 0 {
			smp.Tokens = append(smp.Tokens, Token{Text: " > ", Bytes: []byte(" > ")})
		}
		id := "[" + strconv.Itoa(k+1) + "]"
		smp.Tokens = append(smp.Tokens, Token{Text: id, Bytes: []byte(id), Logprob: lp})
	}
	for _, t := range smp.Tokens {
		smp.Text += t.Text
	}
	smp.FinishReason = "stop"
	smp.Usage.CompletionTokens = len(smp.Tokens)
	return smp
}

// choose draws one of left with softmax(logits/temp) and returns its
// position in left and its log probability; temp <= 0 is greedy.
func choose(logits []float64, left []int, probs []float64, temp float64, rng *rand.Rand) (int, float64) {
	if temp <= 0 || len(left) == 1 {
		best := 0
		for j := range left {
			if logits[left[j]] > logits[left[best]] {
				best = j
			}
		}
		return best, 0
	}
	hi := math.Inf(-1)
	for _, k := range left {
		hi = max(hi, logits[k]/temp)
	}
	var sum float64
	for j, k := range left {
		probs[j] = math.Exp(logits[k]/temp - hi)
		sum += probs[j]
	}
	u := rng.Float64() * sum
	pick := len(left) - 1
	for j := range left {
		if u -= probs[j]; u < 0 {
			pick = j
			break
		}
	}
	return pick, math.Log(probs[pick] / sum)
}
