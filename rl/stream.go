package rl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
			res, err := Reward(&scorer, req, kind, unc)
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
