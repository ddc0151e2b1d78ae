package eval

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/flexrec/flexrec/prompt"
)

// Config controls Evaluate. Build it with DefaultConfig and change fields.
type Config struct {
	// Measures are the report's columns; nil means DefaultMeasures.
	Measures []Measure `json:"-"`
	// Resamples is the number of bootstrap resamples per interval, >= 0;
	// 0 gives no interval (the bounds equal the mean). Default 1000.
	Resamples int `json:"resamples"`
	// Confidence is the interval's coverage, in (0, 1). Default 0.95.
	Confidence float64 `json:"confidence"`
	// Seed seeds the bootstrap; 0 is a valid seed. Default 1.
	Seed int64 `json:"seed"`
	// Workers is how many rankings run at once, >= 1. Default GOMAXPROCS.
	Workers int `json:"workers"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{Resamples: 1000, Confidence: 0.95, Seed: 1, Workers: runtime.GOMAXPROCS(0)}
}

// Validate reports the first invalid field of c, naming it.
func (c Config) Validate() error {
	switch {
	case c.Resamples < 0:
		return fmt.Errorf("eval: config resamples %d, want >= 0", c.Resamples)
	case !(c.Confidence > 0 && c.Confidence < 1):
		return fmt.Errorf("eval: config confidence %v, want in (0, 1)", c.Confidence)
	case c.Workers < 1:
		return fmt.Errorf("eval: config workers %d, want >= 1", c.Workers)
	}
	if c.Measures != nil {
		return validateMeasures(c.Measures)
	}
	return nil
}

// Stat is the mean of one measure over episodes with its bootstrap
// interval (percentile method).
type Stat struct {
	// Name is the measure's name, e.g. "ndcg@5".
	Name string `json:"name"`
	// Mean is the mean over episodes.
	Mean float64 `json:"mean"`
	// Low and High bound the interval of Report.Confidence coverage.
	Low float64 `json:"ci_low"`
	// High is the upper bound of the interval.
	High float64 `json:"ci_high"`
}

// LLMStats summarises the traces of a TracingRanker over a row's episodes.
type LLMStats struct {
	// InvalidRate is the share of episodes whose output broke the output
	// contract (Trace.Invalid), in [0, 1].
	InvalidRate float64 `json:"invalid_rate"`
	// RepairRate is the share of episodes where repair placed candidates
	// the output left out (Trace.Repaired), in [0, 1].
	RepairRate float64 `json:"repair_rate"`
	// RepairedItems is the mean share of candidates placed by repair.
	RepairedItems float64 `json:"repaired_items"`
	// LatencyMS is the mean backend latency per episode, in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	// PromptTokens is the mean number of prompt tokens per episode.
	PromptTokens float64 `json:"prompt_tokens"`
	// CompletionTokens is the mean number of generated tokens per episode.
	CompletionTokens float64 `json:"completion_tokens"`
}

// Row is one ranker on one need.
type Row struct {
	// Ranker is the ranker's name.
	Ranker string `json:"ranker"`
	// Need is the need id of the episodes.
	Need string `json:"need"`
	// Episodes is the number of episodes averaged over.
	Episodes int `json:"episodes"`
	// Metrics holds one Stat per measure, in the report's order.
	Metrics []Stat `json:"metrics"`
	// LatencyMS is the mean wall time of one Rank call, in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	// LLM is set for rankers that report traces (the LLM ranker).
	LLM *LLMStats `json:"llm,omitempty"`
}

// Stat returns the row's Stat of the named measure and whether it exists.
func (r *Row) Stat(name string) (Stat, bool) {
	for _, s := range r.Metrics {
		if s.Name == name {
			return s, true
		}
	}
	return Stat{}, false
}

// Report is the result of Evaluate: one Row per ranker and need, needs in
// order of first appearance among the episodes, rankers in the order given.
type Report struct {
	// Measures are the measure names, the order of every Row.Metrics.
	Measures []string `json:"measures"`
	// Resamples is the number of bootstrap resamples.
	Resamples int `json:"resamples"`
	// Confidence is the intervals' coverage.
	Confidence float64 `json:"confidence"`
	// Seed is the bootstrap seed.
	Seed int64 `json:"seed"`
	// Rows are the results.
	Rows []Row `json:"rows"`
	// Meta describes the run; Evaluate leaves it zero for the caller.
	Meta Meta `json:"meta,omitzero"`
	// LLMs describes the LLM rankers (model, backend, statistics over all
	// needs), in ranker order; empty without LLM rankers.
	LLMs []LLMInfo `json:"llms,omitempty"`
	// Identical lists the groups of rankers with the same ranking on every
	// episode; empty when there are none.
	Identical []Identical `json:"identical,omitempty"`
}

// Row returns the report's row of a ranker and need and whether it exists.
func (r *Report) Row(ranker, need string) (*Row, bool) {
	for i := range r.Rows {
		if r.Rows[i].Ranker == ranker && r.Rows[i].Need == need {
			return &r.Rows[i], true
		}
	}
	return nil, false
}

// outcome is one ranker's result on one episode.
type outcome struct {
	values  []float64 // one per measure
	n       int       // candidates
	ranking []int     // kept to find rankers that coincide
	trace   Trace
	latency time.Duration
}

// Evaluate ranks every labelled episode with every ranker and returns the
// mean of every measure per ranker and need, with bootstrap intervals, the
// LLM rankers' models and statistics (Report.LLMs), and the groups of
// rankers whose rankings coincide on every episode (Report.Identical).
// Rankings run on cfg.Workers goroutines under ctx; the first error (a
// ranker's, a ranking that is not a permutation of the candidates, ctx's)
// stops the work and is returned. An episode without labels or failing
// Episode.Validate is an error. The result does not depend on Workers.
//
// Intervals: for each need, Resamples resamples of its n episodes drawn
// with replacement (the same resamples for every ranker, seeded by Seed and
// the need id, so comparisons are paired); the interval is the
// ((1-Confidence)/2, (1+Confidence)/2) quantiles of the resampled means,
// interpolated linearly between order statistics.
func Evaluate(ctx context.Context, rankers []Ranker, episodes []prompt.Episode, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Measures == nil {
		cfg.Measures = DefaultMeasures()
	}
	if len(rankers) == 0 || len(episodes) == 0 {
		return nil, fmt.Errorf("eval: %d rankers and %d episodes, want at least one of each", len(rankers), len(episodes))
	}
	judges := make([]*judged, len(episodes))
	for e := range episodes {
		ep := &episodes[e]
		if err := ep.Validate(); err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		if ep.Labels == nil {
			return nil, fmt.Errorf("eval: episode %q has no labels", ep.ID)
		}
		judges[e] = judge(ep)
	}
	out, err := rankAll(ctx, rankers, episodes, judges, cfg)
	if err != nil {
		return nil, err
	}
	return summarise(rankers, episodes, out, cfg), nil
}

// rankAll runs every ranker on every episode and scores the rankings;
// out[r][e] is ranker r on episode e.
func rankAll(ctx context.Context, rankers []Ranker, episodes []prompt.Episode, judges []*judged, cfg Config) ([][]outcome, error) {
	out := make([][]outcome, len(rankers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Workers)
	for r := range rankers {
		out[r] = make([]outcome, len(episodes))
		for e := range episodes {
			g.Go(func() error {
				o, err := rankOne(gctx, rankers[r], &episodes[e], judges[e], cfg.Measures)
				out[r][e] = o
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, ctx.Err()
}

// rankOne ranks one episode with one ranker and scores the ranking.
func rankOne(ctx context.Context, rk Ranker, ep *prompt.Episode, j *judged, ms []Measure) (outcome, error) {
	if err := ctx.Err(); err != nil {
		return outcome{}, err
	}
	var (
		o       outcome
		ranking []int
		err     error
	)
	start := time.Now()
	if tr, ok := rk.(TracingRanker); ok {
		ranking, o.trace, err = tr.RankTrace(ctx, ep)
	} else {
		ranking, err = rk.Rank(ctx, ep)
	}
	o.latency = time.Since(start)
	if err != nil {
		return o, err
	}
	if !isPermutation(ranking, len(ep.Candidates), make([]bool, len(ep.Candidates))) {
		return o, fmt.Errorf("eval: ranker %s: episode %q: ranking %v is not a permutation of %d candidates", rk.Name(), ep.ID, ranking, len(ep.Candidates))
	}
	o.n, o.ranking = len(ep.Candidates), ranking
	o.values = make([]float64, len(ms))
	j.score(ms, ranking, o.values)
	return o, nil
}

// summarise turns the outcomes into the report's rows.
func summarise(rankers []Ranker, episodes []prompt.Episode, out [][]outcome, cfg Config) *Report {
	rep := &Report{Resamples: cfg.Resamples, Confidence: cfg.Confidence, Seed: cfg.Seed,
		LLMs: llmInfos(rankers, out)}
	for _, m := range cfg.Measures {
		rep.Measures = append(rep.Measures, m.Name)
	}
	needs, byNeed := groupByNeed(episodes)
	for _, need := range needs {
		idx := byNeed[need]
		for r, rk := range rankers {
			rows := make([]outcome, len(idx))
			for k, e := range idx {
				rows[k] = out[r][e]
			}
			_, tracing := rk.(TracingRanker)
			rep.Rows = append(rep.Rows, summariseRow(rk.Name(), need, rows, tracing, cfg))
		}
	}
	rep.Identical = identicalGroups(factsOf(rankers), out, rep)
	return rep
}

// groupByNeed returns the need ids in order of first appearance and the
// episode indices of each.
func groupByNeed(episodes []prompt.Episode) ([]string, map[string][]int) {
	var needs []string
	by := map[string][]int{}
	for e := range episodes {
		n := episodes[e].Need
		if _, ok := by[n]; !ok {
			needs = append(needs, n)
		}
		by[n] = append(by[n], e)
	}
	return needs, by
}

// summariseRow computes one row: means, intervals and traces.
func summariseRow(ranker, need string, rows []outcome, tracing bool, cfg Config) Row {
	row := Row{Ranker: ranker, Need: need, Episodes: len(rows)}
	n := float64(len(rows))
	values := make([][]float64, len(rows))
	for k := range rows {
		values[k] = rows[k].values
	}
	lo, hi := bootstrap(values, cfg.Resamples, cfg.Confidence, needSeed(cfg.Seed, need))
	for m, ms := range cfg.Measures {
		var sum float64
		for k := range rows {
			sum += rows[k].values[m]
		}
		row.Metrics = append(row.Metrics, Stat{Name: ms.Name, Mean: sum / n, Low: lo[m], High: hi[m]})
	}
	var lat time.Duration
	var st LLMStats // sums first, means below
	for _, o := range rows {
		lat += o.latency
		st.InvalidRate += b2f(o.trace.Invalid)
		st.RepairRate += b2f(o.trace.Repaired)
		st.RepairedItems += float64(o.trace.RepairedItems) / float64(max(o.n, 1))
		st.LatencyMS += float64(o.trace.Latency) / 1e6
		st.PromptTokens += float64(o.trace.PromptTokens)
		st.CompletionTokens += float64(o.trace.CompletionTokens)
	}
	for _, v := range []*float64{&st.InvalidRate, &st.RepairRate, &st.RepairedItems, &st.LatencyMS, &st.PromptTokens, &st.CompletionTokens} {
		*v /= n
	}
	row.LatencyMS = float64(lat) / 1e6 / n
	if tracing {
		row.LLM = &st
	}
	return row
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// needSeed is the bootstrap stream of a need.
func needSeed(seed int64, need string) [2]uint64 {
	h := fnv.New64a()
	h.Write([]byte(need)) // hash.Hash.Write never returns an error
	return [2]uint64{uint64(seed), h.Sum64()}
}

// bootstrap returns, for every measure m, the percentile interval of the
// mean of values[·][m] (episode-major: values[e][m]) from b resamples of the
// episodes with replacement, drawn from the PCG stream seed; every measure
// sees the same resamples. With b = 0 both bounds are the mean. Cost
// O(b·n·M) for n episodes and M measures.
func bootstrap(values [][]float64, b int, confidence float64, seed [2]uint64) (lo, hi []float64) {
	if len(values) == 0 {
		return nil, nil
	}
	if b == 0 {
		lo = resampleMeans(values, identity(len(values)), make([]float64, len(values[0])))
		return lo, slices.Clone(lo)
	}
	means := make([][]float64, len(values[0])) // means[m][k]: resample k's mean of measure m
	rng := rand.New(rand.NewPCG(seed[0], seed[1]))
	draw, sums := make([]int, len(values)), make([]float64, len(values[0]))
	for range b {
		for e := range draw {
			draw[e] = rng.IntN(len(values))
		}
		for m, v := range resampleMeans(values, draw, sums) {
			means[m] = append(means[m], v)
		}
	}
	lo, hi = make([]float64, len(means)), make([]float64, len(means))
	alpha := (1 - confidence) / 2
	for m := range means {
		slices.Sort(means[m])
		lo[m], hi[m] = quantile(means[m], alpha), quantile(means[m], 1-alpha)
	}
	return lo, hi
}

// resampleMeans writes into sums, and returns it, the mean of every measure
// over the episodes listed in draw.
func resampleMeans(values [][]float64, draw []int, sums []float64) []float64 {
	clear(sums)
	for _, e := range draw {
		for m, v := range values[e] {
			sums[m] += v
		}
	}
	for m := range sums {
		sums[m] /= float64(len(draw))
	}
	return sums
}

// identity returns 0..n-1.
func identity(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// quantile returns the q-quantile of sorted values, interpolating linearly
// between the order statistics at positions floor and ceil of q·(n-1).
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}
