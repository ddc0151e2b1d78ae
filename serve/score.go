package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/rank"
	"github.com/flexrec/flexrec/rl"
)

// maxCandidates bounds N, as `flexrec parse --n` does.
const maxCandidates = 100000

// shortIDs caches "1".."N" so that scoring allocates no id strings.
var shortIDs = func() []string {
	ids := make([]string, 256)
	for i := range ids {
		ids[i] = strconv.Itoa(i + 1)
	}
	return ids
}()

func shortID(k int) string {
	if k < len(shortIDs) {
		return shortIDs[k]
	}
	return strconv.Itoa(k + 1)
}

// worker scores items one at a time with reused buffers. It is not safe
// for concurrent use; the handler keeps a pool.
type worker struct {
	parser rank.Parser
	cands  []rank.Candidate
	groups map[rl.Config]*rl.Group
	spans  []itemSpan
}

// itemSpan is one generated item's byte range and its position.
type itemSpan struct{ start, end, pos int }

func newWorker() *worker { return &worker{groups: map[rl.Config]*rl.Group{}} }

// scored is what scoring one completion yields, for both endpoints.
type scored struct {
	res *rank.Result
	out ScoreResult
}

// score parses text against the ground truth's candidates and scores the
// permutation: rank's Parser.ParseSample and Repair (prompt order), as
// `flexrec parse` runs them, then rl.Group under cfg for a group of one, as
// `flexrec reward` and the rollouts compute rewards. list names the array
// the item is in for errors ("items", "query").
func (w *worker) score(list string, i int, text, finish string, gt *GroundTruth, cfg rl.Config, offsets [][2]int) (*scored, error) {
	n := len(gt.Gains)
	w.candidates(n, gt.Titles)
	res := w.parser.ParseSample(&llm.Sample{Text: text, FinishReason: finish}, w.cands)
	if err := rank.Repair(res, rank.PromptOrder, nil); err != nil {
		return nil, badItem(list, i, "completion", "%v", err) // prompt-order never fails; kept for safety
	}
	gr, err := w.group(cfg)
	if err != nil {
		return nil, badItem(list, i, "item_reward", "%v", err)
	}
	repaired := make([]bool, n)
	for p := res.NGenerated; p < n; p++ {
		repaired[p] = true
	}
	if err := gr.Compute(gt.Gains, gt.Variances, []rl.Rollout{{Permutation: res.Order, Repaired: repaired}}); err != nil {
		gl, gf := gtPath(list)
		return nil, badItem(gl, i, gf, "%v", err)
	}
	rep := res.Report()
	out := ScoreResult{
		ListReward: gr.Rewards()[0], ItemRewards: slices.Clone(gr.ItemRewards(0)),
		Permutation: rep.Permutation, Generated: make([]bool, n), Report: rep,
		U: gr.Uncertainties()[0], TokenRewards: []float64{},
	}
	for p := range res.NGenerated {
		out.Generated[p] = true
	}
	if !finite(out.ListReward) || !finite(out.U) || !allFinite(out.ItemRewards) {
		gl, gf := gtPath(list)
		return nil, badItem(gl, i, join(gf, "gains"), "values too large: the reward overflows float64")
	}
	if len(offsets) > 0 {
		out.TokenRewards = w.tokenRewards(res, out.ItemRewards, offsets)
	}
	return &scored{res: res, out: out}, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func allFinite(xs []float64) bool {
	for _, x := range xs {
		if !finite(x) {
			return false
		}
	}
	return true
}

// gtPath names where the ground truth of an item of list is: the
// item's ground_truth field, or OpenRLHF's labels array.
func gtPath(list string) (string, string) {
	if list == "items" {
		return "items", "ground_truth"
	}
	return "labels", ""
}

// candidates sets w.cands to the short ids 1..n with the given titles.
func (w *worker) candidates(n int, titles []string) {
	if cap(w.cands) < n {
		w.cands = make([]rank.Candidate, n)
	}
	w.cands = w.cands[:n]
	for k := range w.cands {
		w.cands[k] = rank.Candidate{ID: shortID(k)}
		if titles != nil {
			w.cands[k].Title = titles[k]
		}
	}
}

// group returns the worker's Group for cfg, creating it once.
func (w *worker) group(cfg rl.Config) (*rl.Group, error) {
	if g, ok := w.groups[cfg]; ok {
		return g, nil
	}
	g, err := rl.NewGroup(cfg)
	if err != nil {
		return nil, err
	}
	if len(w.groups) > 64 { // bounded: configs come from requests
		clear(w.groups)
	}
	w.groups[cfg] = g
	return g, nil
}

// tokenRewards gives each token the item reward of the first generated
// item whose byte span it overlaps, 0 when it overlaps none. Offsets were
// checked by validate. O((T + K) log K).
func (w *worker) tokenRewards(res *rank.Result, items []float64, offsets [][2]int) []float64 {
	w.spans = w.spans[:0]
	pos := 0
	for _, it := range res.Items {
		if it.Status == rank.OK {
			w.spans = append(w.spans, itemSpan{it.Start, it.End, pos})
			pos++
		}
	}
	out := make([]float64, len(offsets))
	for t, off := range offsets {
		// The spans are disjoint and in text order: the first one ending
		// after the token's start is the only candidate for the earliest
		// overlap.
		j := sort.Search(len(w.spans), func(j int) bool { return w.spans[j].end > off[0] })
		if j < len(w.spans) && w.spans[j].start < off[1] && off[0] < off[1] {
			out[t] = items[w.spans[j].pos]
		}
	}
	return out
}

// decodeGroundTruth reads a ground truth given as an object or as JSON
// text into gt, and checks it. list and i name the item for errors; field
// is the ground truth's own field name ("ground_truth" or "" for labels).
func decodeGroundTruth(raw json.RawMessage, gt *GroundTruth, list string, i int, field string) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return badItem(list, i, field, "required")
	}
	if raw[0] == '"' {
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return badItem(list, i, field, "%v", err)
		}
		raw = []byte(text)
	}
	*gt = GroundTruth{}
	if err := json.Unmarshal(raw, gt); err != nil {
		return badItem(list, i, join(field, typeField(err)), "want an object {gains, variances, k, titles} or its JSON text: %v", err)
	}
	return checkGroundTruth(gt, list, i, field)
}

// checkGroundTruth validates the ground truth's values.
func checkGroundTruth(gt *GroundTruth, list string, i int, field string) error {
	n := len(gt.Gains)
	switch {
	case n == 0:
		return badItem(list, i, join(field, "gains"), "required: one gain per candidate")
	case n > maxCandidates:
		return badItem(list, i, join(field, "gains"), "%d gains, at most %d", n, maxCandidates)
	case len(gt.Variances) > 0 && len(gt.Variances) != n:
		return badItem(list, i, join(field, "variances"), "%d values for %d gains", len(gt.Variances), n)
	case gt.Titles != nil && len(gt.Titles) != n:
		return badItem(list, i, join(field, "titles"), "%d titles for %d gains", len(gt.Titles), n)
	case gt.K < 0:
		return badItem(list, i, join(field, "k"), "%d, want >= 0 (0: the whole list)", gt.K)
	}
	if err := nonNegative(gt.Gains); err != nil {
		return badItem(list, i, join(field, "gains"), "%v", err)
	}
	if err := nonNegative(gt.Variances); err != nil {
		return badItem(list, i, join(field, "variances"), "%v", err)
	}
	if len(gt.Variances) == 0 {
		gt.Variances = nil
	}
	return nil
}

func nonNegative(xs []float64) error {
	for k, x := range xs {
		if !(x >= 0) || math.IsInf(x, 1) {
			return fmt.Errorf("value %d is %v, want finite >= 0", k, x)
		}
	}
	return nil
}

// typeField returns the field a json.UnmarshalTypeError names, if any.
func typeField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	return ""
}

// join joins two JSON path parts with a dot, skipping empty ones.
func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "." + b
}
