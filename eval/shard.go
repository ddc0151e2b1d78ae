package eval

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/flexrec/flexrec/prompt"
)

// EpisodeResult is one ranker's result on one episode: what a report's
// rows are computed from.
type EpisodeResult struct {
	// Episode and Need identify the episode; Ranker the ranker.
	Episode string `json:"episode_id"`
	Need    string `json:"need"`
	Ranker  string `json:"ranker"`
	// Values has one value per measure, in the report's order.
	Values []float64 `json:"values"`
	// Candidates is the episode's number of candidates; Ranking the
	// ranking, as candidate indices.
	Candidates int   `json:"candidates"`
	Ranking    []int `json:"ranking"`
	// Trace is a TracingRanker's trace (zero for other rankers).
	Trace Trace `json:"trace"`
	// Latency is the wall time of the Rank call.
	Latency time.Duration `json:"latency_ns"`
}

// ShardRanker is what a merge needs of a ranker besides its results.
type ShardRanker struct {
	// Name is the ranker's report name; About what it ranks by ("" when
	// eval does not know); Tracing whether it reports traces.
	Name    string `json:"name"`
	About   string `json:"about,omitempty"`
	Tracing bool   `json:"tracing,omitempty"`
}

// Shard is one machine's part of an evaluation: the whole evaluation's
// episode order, every ranker's result on the shard's episodes, and the
// shard's own report (its Meta and LLM costs are what MergeShards keeps).
type Shard struct {
	// Order lists every episode id of the whole evaluation, in order.
	Order []string `json:"order"`
	// Rankers are the rankers, in report order.
	Rankers []ShardRanker `json:"rankers"`
	// Results are the shard's results, ranker by ranker.
	Results []EpisodeResult `json:"results"`
	// Report is the shard's report, over its episodes only.
	Report *Report `json:"report"`
}

// EvaluateShard evaluates the episodes of episodes that keep accepts (a
// shard) as Evaluate does, and returns them with what MergeShards needs
// to compute, from all shards, the report one Evaluate over every
// episode would give. Errors are Evaluate's.
func EvaluateShard(ctx context.Context, rankers []Ranker, episodes []prompt.Episode, keep func(*prompt.Episode) bool, cfg Config) (*Shard, error) {
	sh := &Shard{}
	var mine []prompt.Episode
	for i := range episodes {
		sh.Order = append(sh.Order, episodes[i].ID)
		if keep(&episodes[i]) {
			mine = append(mine, episodes[i])
		}
	}
	if cfg.Measures == nil {
		cfg.Measures = DefaultMeasures()
	}
	for _, rk := range rankers {
		_, tracing := rk.(TracingRanker)
		sh.Rankers = append(sh.Rankers, ShardRanker{Name: rk.Name(), About: about(rk), Tracing: tracing})
	}
	if len(mine) == 0 {
		sh.Report = &Report{Resamples: cfg.Resamples, Confidence: cfg.Confidence, Seed: cfg.Seed, LLMs: llmInfos(rankers, make([][]outcome, len(rankers)))}
		for _, m := range cfg.Measures {
			sh.Report.Measures = append(sh.Report.Measures, m.Name)
		}
		return sh, nil
	}
	judges := make([]*judged, len(mine))
	for e := range mine {
		if err := mine[e].Validate(); err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		if mine[e].Labels == nil {
			return nil, fmt.Errorf("eval: episode %q has no labels", mine[e].ID)
		}
		judges[e] = judge(&mine[e])
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	out, err := rankAll(ctx, rankers, mine, judges, cfg)
	if err != nil {
		return nil, err
	}
	sh.Report = summarise(rankers, mine, out, cfg)
	for r, rk := range rankers {
		for e := range mine {
			o := out[r][e]
			sh.Results = append(sh.Results, EpisodeResult{Episode: mine[e].ID, Need: mine[e].Need, Ranker: rk.Name(),
				Values: o.values, Candidates: o.n, Ranking: o.ranking, Trace: o.trace, Latency: o.latency})
		}
	}
	return sh, nil
}

// MergeShards computes the report of the whole evaluation from its
// shards: every episode of the order must have exactly one result per
// ranker (a result given twice must be identical), the shards must agree
// on the order, the rankers and the report settings. The rows (means,
// bootstrap intervals, LLM statistics), the LLM rankers' statistics and
// the identical groups equal one machine's, timings aside; Meta is the
// first shard's; an LLM ranker's cost is the shards' sum when every shard
// has one.
func MergeShards(shards []*Shard) (*Report, error) {
	if len(shards) == 0 {
		return nil, fmt.Errorf("eval: merge: no shards")
	}
	first := shards[0]
	if err := checkShards(shards); err != nil {
		return nil, err
	}
	at := make(map[string]int, len(first.Order))
	for i, id := range first.Order {
		at[id] = i
	}
	out := make([][]outcome, len(first.Rankers))
	have := make([][]bool, len(first.Rankers))
	needs := make([]string, len(first.Order))
	for r := range out {
		out[r], have[r] = make([]outcome, len(first.Order)), make([]bool, len(first.Order))
	}
	for _, sh := range shards {
		if err := placeResults(sh, first, at, out, have, needs); err != nil {
			return nil, err
		}
	}
	for r := range have {
		if e := slices.Index(have[r], false); e >= 0 {
			return nil, fmt.Errorf("eval: merge: no result of %s on episode %q: a shard is missing", first.Rankers[r].Name, first.Order[e])
		}
	}
	return mergedReport(shards, out, needs), nil
}

// checkShards reports shards that did not evaluate the same thing.
func checkShards(shards []*Shard) error {
	first := shards[0]
	for k, sh := range shards[1:] {
		a, b := first.Report, sh.Report
		switch {
		case !slices.Equal(sh.Order, first.Order):
			return fmt.Errorf("eval: merge: shard %d evaluated other episodes than shard 0", k+1)
		case !slices.Equal(sh.Rankers, first.Rankers):
			return fmt.Errorf("eval: merge: shard %d has other rankers than shard 0", k+1)
		case !slices.Equal(a.Measures, b.Measures) || a.Resamples != b.Resamples || a.Confidence != b.Confidence || a.Seed != b.Seed:
			return fmt.Errorf("eval: merge: shard %d has other measures or bootstrap settings than shard 0", k+1)
		}
	}
	return nil
}

// placeResults puts one shard's results at their episode's place.
func placeResults(sh, first *Shard, at map[string]int, out [][]outcome, have [][]bool, needs []string) error {
	for _, res := range sh.Results {
		e, ok := at[res.Episode]
		r := slices.IndexFunc(first.Rankers, func(x ShardRanker) bool { return x.Name == res.Ranker })
		if !ok || r < 0 {
			return fmt.Errorf("eval: merge: result of %s on %q: not among the rankers and episodes", res.Ranker, res.Episode)
		}
		o := outcome{values: res.Values, n: res.Candidates, ranking: res.Ranking, trace: res.Trace, latency: res.Latency}
		if have[r][e] {
			if !slices.Equal(out[r][e].values, o.values) || !slices.Equal(out[r][e].ranking, o.ranking) {
				return fmt.Errorf("eval: merge: two different results of %s on %q", res.Ranker, res.Episode)
			}
			continue
		}
		out[r][e], have[r][e], needs[e] = o, true, res.Need
	}
	return nil
}

// mergedReport summarises the merged outcomes as summarise does.
func mergedReport(shards []*Shard, out [][]outcome, needNames []string) *Report {
	first := shards[0]
	cfg := Config{Resamples: first.Report.Resamples, Confidence: first.Report.Confidence, Seed: first.Report.Seed}
	for _, m := range first.Report.Measures {
		cfg.Measures = append(cfg.Measures, Measure{Name: m})
	}
	rep := &Report{Measures: first.Report.Measures, Resamples: cfg.Resamples, Confidence: cfg.Confidence, Seed: cfg.Seed,
		Meta: first.Report.Meta}
	var needs []string
	byNeed := map[string][]int{}
	for e, n := range needNames {
		if _, ok := byNeed[n]; !ok {
			needs = append(needs, n)
		}
		byNeed[n] = append(byNeed[n], e)
	}
	for _, need := range needs {
		for r, rk := range first.Rankers {
			rows := make([]outcome, len(byNeed[need]))
			for k, e := range byNeed[need] {
				rows[k] = out[r][e]
			}
			rep.Rows = append(rep.Rows, summariseRow(rk.Name, need, rows, rk.Tracing, cfg))
		}
	}
	facts := make([]rankerFacts, len(first.Rankers))
	for r, rk := range first.Rankers {
		facts[r] = rankerFacts{name: rk.Name, about: rk.About}
	}
	for _, info := range first.Report.LLMs {
		r := slices.IndexFunc(first.Rankers, func(x ShardRanker) bool { return x.Name == info.Ranker })
		if r >= 0 {
			countLLM(&info, out[r])
		}
		info.Cost = sumCost(shards, info.Ranker)
		rep.LLMs = append(rep.LLMs, info)
	}
	rep.Identical = identicalGroups(facts, out, rep)
	return rep
}

// sumCost adds up an LLM ranker's cost over the shards; nil when a shard
// has none.
func sumCost(shards []*Shard, ranker string) *float64 {
	var sum float64
	for _, sh := range shards {
		k := slices.IndexFunc(sh.Report.LLMs, func(x LLMInfo) bool { return x.Ranker == ranker })
		if k < 0 || sh.Report.LLMs[k].Cost == nil {
			return nil
		}
		sum += *sh.Report.LLMs[k].Cost
	}
	return &sum
}
