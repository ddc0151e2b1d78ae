package export

import (
	"bytes"
	"fmt"
)

// Token-length estimate for records without usage counts: UTF-8 bytes
// divided by estimateBytesPerToken, rounded up, plus estimateTokensPerMessage
// per chat message for the chat template. Rankings are digit- and
// bracket-heavy, so 3 bytes per token is on the long side for common BPE
// vocabularies (ASCII prose runs about 4): limits set from it rarely cut.
const (
	estimateBytesPerToken    = 3
	estimateTokensPerMessage = 4
	estimateRule             = "ceil(UTF-8 bytes / 3) + 4 per chat message, for records whose backend reported no token counts"
)

// Lengths are the token lengths of the exported rollouts: the prompt, the
// completion, and both together. Each figure comes from the records' usage
// counts when every exported record has them, else from an estimate
// (Source says which; Estimate says how).
type Lengths struct {
	// Rollouts is how many rollouts the figures cover (every record of the
	// exported groups).
	Rollouts int64 `json:"rollouts"`
	// Source says, for "prompt" and "completion", where the counts come
	// from: "usage" (the backend's counts in the records) or "estimate".
	Source map[string]string `json:"source"`
	// Estimate describes the estimate, when one was used.
	Estimate string `json:"estimate,omitempty"`
	// Prompt, Completion and Total (prompt + completion) are nearest-rank
	// percentiles and the maximum, in tokens.
	Prompt     Quantiles `json:"prompt_tokens"`
	Completion Quantiles `json:"completion_tokens"`
	Total      Quantiles `json:"total_tokens"`
}

// Quantiles are the nearest-rank 50th and 95th percentiles and the maximum
// of a count.
type Quantiles struct {
	P50 int64 `json:"p50"`
	P95 int64 `json:"p95"`
	Max int64 `json:"max"`
}

// TrainerSettings are the length limits under which no exported row is
// dropped or cut: each is the smallest multiple of 64 at or above the
// maximum it bounds, under each trainer's own option names (read from
// their sources: TRL at f2cd577, verl at b178a3c, OpenRLHF v0.11.0).
type TrainerSettings struct {
	// TRL: max_length of DPOConfig, KTOConfig and RewardConfig (prompt +
	// completion; RewardTrainer drops longer pairs, DPO and KTO truncate);
	// max_completion_length of GRPOConfig. (Current TRL has no
	// max_prompt_length.)
	TRL map[string]int64 `json:"trl"`
	// Verl: data.max_prompt_length and data.max_response_length.
	Verl map[string]int64 `json:"verl"`
	// OpenRLHF: --data.max_len (prompt + response, every trainer) and
	// --rollout.max_new_tokens (train_ppo_ray).
	OpenRLHF map[string]int64 `json:"openrlhf"`
}

// lengthHist counts values exactly below histCap and tracks the maximum;
// memory stays flat whatever the input size.
type lengthHist struct {
	counts []uint32 // 256 KiB; a bucket would overflow past 4 billion rollouts
	n      int64
	max    int64
}

const histCap = 1 << 16

func (h *lengthHist) add(v int64) {
	if h.counts == nil {
		h.counts = make([]uint32, histCap)
	}
	h.counts[min(max(v, 0), histCap-1)]++
	h.n++
	h.max = max(h.max, v)
}

// quantile returns the nearest-rank q-quantile: the smallest value v with
// at least ceil(q·n) values <= v (values past histCap read as the max).
func (h *lengthHist) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.999999999)
	var cum int64
	for v, c := range h.counts {
		if cum += int64(c); cum >= rank {
			if v == histCap-1 {
				return h.max
			}
			return int64(v)
		}
	}
	return h.max
}

func (h *lengthHist) quantiles() Quantiles {
	return Quantiles{P50: h.quantile(0.5), P95: h.quantile(0.95), Max: h.max}
}

// lengthStats accumulates both kinds of counts for every exported rollout,
// and picks usage or estimate per field at the end.
type lengthStats struct {
	usage, est      [3]lengthHist // prompt, completion, total
	estUse, useEst  lengthHist    // totals: estimated prompt + usage completion, and the reverse
	noPrompt, noCpl bool          // some record lacks that usage count
}

// add counts one rollout from its header.
func (s *lengthStats) add(h *head) {
	ep := estimateTokens(h.promptBytes) + estimateTokensPerMessage*int64(h.messages)
	ec := estimateTokens(h.complBytes)
	s.est[0].add(ep)
	s.est[1].add(ec)
	s.est[2].add(ep + ec)
	s.noPrompt = s.noPrompt || h.promptTokens <= 0
	s.noCpl = s.noCpl || h.complTokens <= 0
	s.usage[0].add(h.promptTokens)
	s.usage[1].add(h.complTokens)
	s.usage[2].add(h.promptTokens + h.complTokens)
	s.estUse.add(ep + h.complTokens)
	s.useEst.add(h.promptTokens + ec)
}

func estimateTokens(bytes int64) int64 {
	return (bytes + estimateBytesPerToken - 1) / estimateBytesPerToken
}

// result returns the manifest's lengths, or nil when nothing was exported.
// Each total is the per-rollout sum of the prompt and completion counts
// of the chosen sources.
func (s *lengthStats) result() *Lengths {
	if s.est[0].n == 0 {
		return nil
	}
	l := &Lengths{Rollouts: s.est[0].n, Source: map[string]string{"prompt": "usage", "completion": "usage"}}
	pick := func(i int, missing bool, field string) Quantiles {
		if missing {
			l.Source[field], l.Estimate = "estimate", estimateRule
			return s.est[i].quantiles()
		}
		return s.usage[i].quantiles()
	}
	l.Prompt = pick(0, s.noPrompt, "prompt")
	l.Completion = pick(1, s.noCpl, "completion")
	switch {
	case !s.noPrompt && !s.noCpl:
		l.Total = s.usage[2].quantiles()
	case s.noPrompt && s.noCpl:
		l.Total = s.est[2].quantiles()
	case s.noPrompt:
		l.Total = s.estUse.quantiles()
	default:
		l.Total = s.useEst.quantiles()
	}
	return l
}

// settings returns the trainer limits the lengths imply.
func (l *Lengths) settings() *TrainerSettings {
	if l == nil {
		return nil
	}
	up := func(v int64) int64 { return max(64, (v+63)/64*64) }
	total, prompt, cpl := up(l.Total.Max), up(l.Prompt.Max), up(l.Completion.Max)
	return &TrainerSettings{
		TRL:      map[string]int64{"max_length": total, "max_completion_length": cpl},
		Verl:     map[string]int64{"data.max_prompt_length": prompt, "data.max_response_length": cpl},
		OpenRLHF: map[string]int64{"--data.max_len": total, "--rollout.max_new_tokens": cpl},
	}
}

// Summary returns the lengths and settings on one line, for the export
// summary.
func (l *Lengths) Summary() string {
	if l == nil {
		return "lengths: no rollouts"
	}
	src := l.Source["prompt"]
	if l.Source["completion"] != src {
		src = "prompt " + l.Source["prompt"] + ", completion " + l.Source["completion"]
	}
	s := l.settings()
	return fmt.Sprintf("tokens (%s) p50/p95/max: prompt %d/%d/%d, completion %d/%d/%d, prompt+completion %d/%d/%d; "+
		"settings: TRL max_length=%d max_completion_length=%d; verl data.max_prompt_length=%d data.max_response_length=%d; "+
		"OpenRLHF --data.max_len=%d --rollout.max_new_tokens=%d",
		src, l.Prompt.P50, l.Prompt.P95, l.Prompt.Max, l.Completion.P50, l.Completion.P95, l.Completion.Max,
		l.Total.P50, l.Total.P95, l.Total.Max,
		s.TRL["max_length"], s.TRL["max_completion_length"], s.Verl["data.max_prompt_length"], s.Verl["data.max_response_length"],
		s.OpenRLHF["--data.max_len"], s.OpenRLHF["--rollout.max_new_tokens"])
}

// textBytes estimates the UTF-8 length of the strings in a raw JSON value
// without decoding it: the raw length less the quotes and the escape
// overhead (each escape counted as one byte). Close for the records'
// text (a byte or two off per escaped non-ASCII character or escaped
// backslash), and cheap: a few SIMD-backed counts, no decoding.
func textBytes(raw []byte) int64 {
	n := len(raw) - 2*bytes.Count(raw, []byte{'"'})
	esc := bytes.Count(raw, []byte{'\\'})
	uni := bytes.Count(raw, []byte(`\u`))
	escQuotes := bytes.Count(raw, []byte(`\"`))
	// Each \" was counted as a string delimiter pair half: add it back.
	n += 2 * escQuotes
	n -= esc + 4*uni // "\x" → 1 byte; "\uXXXX" → 1 byte
	return int64(max(n, 0))
}

// countMessages counts the objects in a raw JSON messages array: its
// "role" keys.
func countMessages(raw []byte) int {
	return bytes.Count(raw, []byte(`"role"`))
}
