package rl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// LineError is an error in one line of a JSON Lines input. Unwrap gives
// the cause (a JSON error, or one wrapping ErrGains or ErrPermutation).
type LineError struct {
	// Name is the input's name (a file name, or "stdin").
	Name string
	// Line is the 1-based line number.
	Line int
	// Err is the cause.
	Err error
}

// Error returns "rl: NAME:LINE: cause".
func (e *LineError) Error() string {
	return fmt.Sprintf("rl: %s:%d: %s", e.Name, e.Line, strings.TrimPrefix(e.Err.Error(), "rl: "))
}

// Unwrap returns the cause.
func (e *LineError) Unwrap() error { return e.Err }

// RewardRequest is one input line of `flexrec reward`.
type RewardRequest struct {
	// Gains are the N candidates' gains, each finite and >= 0.
	Gains []float64 `json:"gains"`
	// Permutation lists indices into Gains, best first, distinct; it may be
	// shorter than Gains (a partial list).
	Permutation []int `json:"permutation"`
	// Variances are the per-candidate gain variances (0 for observed);
	// absent means all observed, so u = 0.
	Variances []float64 `json:"variances,omitempty"`
	// K is the NDCG cutoff; absent or 0 means the whole list.
	K int `json:"k,omitempty"`
	// Repaired marks, per position of Permutation, the items the parser
	// appended (see RepairedTail); absent means none. Read by
	// RewardStreamConfig only.
	Repaired []bool `json:"repaired,omitempty"`
	// Rollouts, when present, make the line a whole group of one episode
	// (RewardStreamConfig only): Permutation and Repaired are then
	// ignored and the result is a GroupResult.
	Rollouts []GroupRollout `json:"rollouts,omitempty"`
}

// GroupRollout is one rollout of a group line of `flexrec reward`.
type GroupRollout struct {
	// Permutation lists indices into the gains, best first; every rollout
	// of a group has the same length.
	Permutation []int `json:"permutation"`
	// Repaired marks the positions the parser filled in; absent means none.
	Repaired []bool `json:"repaired,omitempty"`
	// Spans are the token spans of the positions, [first, last) with
	// generated false for repaired items; absent means no token
	// advantages are computed for this rollout.
	Spans []TokenSpan `json:"spans,omitempty"`
	// Tokens is the number of completion tokens, >= every span's last.
	Tokens int `json:"tokens,omitempty"`
}

// TokenSpan is the wire form of Span.
type TokenSpan struct {
	// First is the index of the item's first token.
	First int `json:"first"`
	// Last is one past the item's last token.
	Last int `json:"last"`
	// Generated is false for a repaired item (no tokens).
	Generated bool `json:"generated"`
}

// GroupResult is the output line of a group line of `flexrec reward`:
// what Group computes, per rollout.
type GroupResult struct {
	// Rewards are the list rewards R_i after the repaired-tail treatment
	// and the format penalty.
	Rewards []float64 `json:"rewards"`
	// U are the rollout uncertainties u_i.
	U []float64 `json:"u"`
	// Scales are the rollout scales c_i.
	Scales []float64 `json:"scales"`
	// SequenceAdvantages are GRPO(R)_i · c_i.
	SequenceAdvantages []float64 `json:"sequence_advantages"`
	// ItemRewards are r_{i,k}, one row per rollout.
	ItemRewards [][]float64 `json:"item_rewards"`
	// ItemAdvantages are A_{i,k}, one row per rollout.
	ItemAdvantages [][]float64 `json:"item_advantages"`
	// TokenAdvantages are the token-level advantages of the rollouts that
	// came with spans (null for the others); absent when none did.
	TokenAdvantages [][]float64 `json:"token_advantages,omitempty"`
}

// RewardResult is one output line of `flexrec reward`.
type RewardResult struct {
	// ListReward is the NDCG of the permutation (Scorer.ListReward).
	ListReward float64 `json:"list_reward"`
	// ItemRewards are the item rewards, one per permutation position.
	ItemRewards []float64 `json:"item_rewards"`
	// U is the rollout uncertainty (Scorer.Variance).
	U float64 `json:"u"`
}

// Reward scores one request with sc (reset to the request's gains and
// cutoff) under the item reward rule and uncertainty kind. Errors wrap
// ErrGains or ErrPermutation.
func Reward(sc *Scorer, req RewardRequest, kind ItemReward, unc Uncertainty) (RewardResult, error) {
	if err := sc.Reset(req.Gains, req.K); err != nil {
		return RewardResult{}, err
	}
	items, err := sc.ItemRewardsInto(nil, req.Permutation, kind)
	if err != nil {
		return RewardResult{}, err
	}
	u, err := sc.Variance(req.Permutation, req.Variances, unc)
	if err != nil {
		return RewardResult{}, err
	}
	return RewardResult{ListReward: sc.listReward(req.Permutation), ItemRewards: items, U: u}, nil
}

// RewardStream reads RewardRequest JSON lines from r and writes one
// RewardResult JSON line to w for each, in order; blank lines are skipped
// and unknown fields ignored. It stops at the first malformed or invalid
// line with a *LineError naming name and the 1-based line number, after
// flushing the results before it. It checks ctx between lines. Lines may
// be up to 64 MiB.
func RewardStream(ctx context.Context, r io.Reader, w io.Writer, name string, kind ItemReward, unc Uncertainty) error {
	if _, err := ParseItemReward(string(kind)); err != nil {
		return err
	}
	return stream(ctx, r, w, name, func(req RewardRequest, sc *Scorer) (any, error) {
		return Reward(sc, req, kind, unc)
	})
}

// RewardStreamConfig is RewardStream under a whole Config: a line without
// "rollouts" is one ranking, scored as a group of one under cfg (its
// repaired flags, cfg.RepairedTail and cfg.FormatPenalty apply; cfg.Cutoff
// is used when the line has no k) into a RewardResult; a line with
// "rollouts" is a group, computed by Group into a GroupResult (advantages
// included, token advantages for the rollouts with spans). Errors are
// RewardStream's, or cfg's validation error.
func RewardStreamConfig(ctx context.Context, r io.Reader, w io.Writer, name string, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	return stream(ctx, r, w, name, func(req RewardRequest, _ *Scorer) (any, error) {
		c := cfg
		if req.K > 0 {
			c.Cutoff = req.K
		}
		gr := &Group{cfg: c}
		if len(req.Rollouts) > 0 {
			return groupResult(gr, req)
		}
		one := []Rollout{{Permutation: req.Permutation, Repaired: req.Repaired}}
		if err := gr.Compute(req.Gains, req.Variances, one); err != nil {
			return nil, err
		}
		return RewardResult{ListReward: gr.Rewards()[0], ItemRewards: gr.ItemRewards(0), U: gr.Uncertainties()[0]}, nil
	})
}

// groupResult computes a group line.
func groupResult(gr *Group, req RewardRequest) (GroupResult, error) {
	rs := make([]Rollout, len(req.Rollouts))
	for i, r := range req.Rollouts {
		rs[i] = Rollout{Permutation: r.Permutation, Repaired: r.Repaired}
	}
	if err := gr.Compute(req.Gains, req.Variances, rs); err != nil {
		return GroupResult{}, err
	}
	res := GroupResult{Rewards: gr.Rewards(), U: gr.Uncertainties(), Scales: gr.Scales(),
		SequenceAdvantages: gr.SequenceAdvantages()}
	for i, r := range req.Rollouts {
		res.ItemRewards = append(res.ItemRewards, gr.ItemRewards(i))
		res.ItemAdvantages = append(res.ItemAdvantages, gr.ItemAdvantages(i))
		if r.Spans == nil {
			res.TokenAdvantages = append(res.TokenAdvantages, nil)
			continue
		}
		spans := make([]Span, len(r.Spans))
		for p, s := range r.Spans {
			spans[p] = Span(s)
		}
		tok, err := gr.TokenAdvantagesInto(nil, i, spans, r.Tokens)
		if err != nil {
			return GroupResult{}, fmt.Errorf("rl: rollout %d: %w", i, err)
		}
		res.TokenAdvantages = append(res.TokenAdvantages, tok)
	}
	if !slices.ContainsFunc(res.TokenAdvantages, func(t []float64) bool { return t != nil }) {
		res.TokenAdvantages = nil
	}
	return res, nil
}

// stream runs score over every JSON line of r, writing each result as a
// JSON line to w.
func stream(ctx context.Context, r io.Reader, w io.Writer, name string, score func(RewardRequest, *Scorer) (any, error)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	out := bufio.NewWriter(w)
	enc := json.NewEncoder(out)
	var scorer Scorer
	err := func() error {
		for line := 1; sc.Scan(); line++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var req RewardRequest
			if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
				return &LineError{Name: name, Line: line, Err: err}
			}
			res, err := score(req, &scorer)
			if err != nil {
				return &LineError{Name: name, Line: line, Err: err}
			}
			if err := enc.Encode(res); err != nil {
				return fmt.Errorf("rl: write result of %s:%d: %w", name, line, err)
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("rl: read %s: %w", name, err)
		}
		return nil
	}()
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("rl: write results: %w", ferr)
	}
	return err
}
