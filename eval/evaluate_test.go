package eval

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/prompt"
)

// fixedRanker returns the ranking stored for each episode id.
type fixedRanker struct {
	name     string
	rankings map[string][]int
	traces   map[string]Trace
	err      error
}

func (f *fixedRanker) Name() string { return f.name }

func (f *fixedRanker) Rank(ctx context.Context, ep *prompt.Episode) ([]int, error) {
	r, _, err := f.RankTrace(ctx, ep)
	return r, err
}

func (f *fixedRanker) RankTrace(_ context.Context, ep *prompt.Episode) ([]int, Trace, error) {
	if f.err != nil {
		return nil, Trace{}, f.err
	}
	return f.rankings[ep.ID], f.traces[ep.ID], nil
}

// plainRanker hides RankTrace, so Evaluate sees a Ranker only.
type plainRanker struct{ Ranker }

// twoEpisodes: e1 is the worked example of metrics_test.go; e2 has one
// relevant candidate, ranked second by the fixed ranker.
func twoEpisodes() []prompt.Episode {
	cands := func(n int) []prompt.Candidate {
		c := make([]prompt.Candidate, n)
		for i := range c {
			c[i] = prompt.Candidate{ItemID: string(rune('a' + i))}
		}
		return c
	}
	return []prompt.Episode{
		{ID: "e1", Need: "interest", Candidates: cands(5), Labels: &prompt.Labels{Gains: exGains, Relevant: exRelevant}},
		{ID: "e2", Need: "interest", Candidates: cands(3), Labels: &prompt.Labels{Gains: []float64{0, 4, 0}, Relevant: []bool{false, true, false}}},
	}
}

func exampleRanker() *fixedRanker {
	return &fixedRanker{name: "fixed", rankings: map[string][]int{"e1": exRanking, "e2": {0, 1, 2}}}
}

func TestEvaluateMeans(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Resamples = 0
	cfg.Measures = []Measure{{Name: "ndcg@3", Metric: NDCG, K: 3}, {Name: "recall@2", Metric: Recall, K: 2}, {Name: "mrr@5", Metric: MRR, K: 5}}
	rep, err := Evaluate(context.Background(), []Ranker{plainRanker{exampleRanker()}}, twoEpisodes(), cfg)
	require.NoError(t, err)
	require.Len(t, rep.Rows, 1)
	row := rep.Rows[0]
	assert.Equal(t, "fixed", row.Ranker)
	assert.Equal(t, "interest", row.Need)
	assert.Equal(t, 2, row.Episodes)
	assert.Nil(t, row.LLM, "a plain ranker has no LLM statistics")
	log3 := math.Log2(3)
	// e2: the relevant item at position 2: NDCG@3 = (4/log2 3)/4, Recall@2 = 1, MRR = 1/2.
	want := map[string]float64{
		"ndcg@3":   ((3/log3+2.5)/(5+3/log3+0.5) + 1/log3) / 2,
		"recall@2": (0.5 + 1) / 2,
		"mrr@5":    (0.5 + 0.5) / 2,
	}
	assert.Equal(t, []string{"ndcg@3", "recall@2", "mrr@5"}, rep.Measures)
	for name, w := range want {
		s, ok := row.Stat(name)
		require.True(t, ok, "row has %s", name)
		assert.InDelta(t, w, s.Mean, 1e-12, "mean %s", name)
		assert.Equal(t, s.Mean, s.Low, "%s: no resamples, low bound is the mean", name)
		assert.Equal(t, s.Mean, s.High, "%s: no resamples, high bound is the mean", name)
	}
}

func TestEvaluateLLMStats(t *testing.T) {
	r := exampleRanker()
	r.traces = map[string]Trace{
		"e1": {Invalid: true, Repaired: true, RepairedItems: 5, Latency: 30 * time.Millisecond, PromptTokens: 100, CompletionTokens: 10},
		"e2": {Invalid: true, Latency: 10 * time.Millisecond, PromptTokens: 50, CompletionTokens: 20},
	}
	rep, err := Evaluate(context.Background(), []Ranker{r}, twoEpisodes(), DefaultConfig())
	require.NoError(t, err)
	got := rep.Rows[0].LLM
	require.NotNil(t, got, "a tracing ranker gets LLM statistics")
	assert.InDelta(t, 1, got.InvalidRate, 1e-12, "invalid rate")
	assert.InDelta(t, 0.5, got.RepairRate, 1e-12, "repair rate")
	assert.InDelta(t, (5.0/5+0.0/3)/2, got.RepairedItems, 1e-12, "repaired items share")
	assert.InDelta(t, 20, got.LatencyMS, 1e-9, "latency ms")
	assert.InDelta(t, 75, got.PromptTokens, 1e-12, "prompt tokens")
	assert.InDelta(t, 15, got.CompletionTokens, 1e-12, "completion tokens")
}

func TestEvaluateErrors(t *testing.T) {
	boom := errors.New("backend down")
	noLabels := twoEpisodes()
	noLabels[1].Labels = nil
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		rankers  []Ranker
		episodes []prompt.Episode
		cfg      func(*Config)
		want     error
		contains string
	}{
		{"ranker error is returned", context.Background(), []Ranker{&fixedRanker{name: "x", err: boom}}, twoEpisodes(), nil, boom, ""},
		{"not a permutation", context.Background(), []Ranker{&fixedRanker{name: "x", rankings: map[string][]int{"e1": {0, 0, 1, 2, 3}, "e2": {0, 1, 2}}}}, twoEpisodes(), nil, nil, "not a permutation"},
		{"short ranking", context.Background(), []Ranker{&fixedRanker{name: "x", rankings: map[string][]int{"e1": {0}, "e2": {0, 1, 2}}}}, twoEpisodes(), nil, nil, "not a permutation"},
		{"episode without labels", context.Background(), []Ranker{exampleRanker()}, noLabels, nil, nil, `episode "e2" has no labels`},
		{"cancelled context", cancelled, []Ranker{exampleRanker()}, twoEpisodes(), nil, context.Canceled, ""},
		{"no rankers", context.Background(), nil, twoEpisodes(), nil, nil, "want at least one"},
		{"bad confidence", context.Background(), []Ranker{exampleRanker()}, twoEpisodes(), func(c *Config) { c.Confidence = 1 }, nil, "confidence"},
		{"bad workers", context.Background(), []Ranker{exampleRanker()}, twoEpisodes(), func(c *Config) { c.Workers = 0 }, nil, "workers"},
		{"duplicate measure", context.Background(), []Ranker{exampleRanker()}, twoEpisodes(), func(c *Config) { c.Measures = []Measure{{Name: "a", Metric: NDCG}, {Name: "a", Metric: MRR}} }, nil, "repeated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			_, err := Evaluate(tt.ctx, tt.rankers, tt.episodes, cfg)
			require.Error(t, err)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
			assert.ErrorContains(t, err, tt.contains)
		})
	}
}

// TestEvaluateDeterministic checks that rows come needs-first in order of
// appearance and that the result does not depend on the worker count.
func TestEvaluateDeterministic(t *testing.T) {
	var eps []prompt.Episode
	for u := range 40 {
		ep := syntheticEpisode(30, uint64(u+1))
		if u%2 == 1 {
			ep.Need = "explore"
		}
		eps = append(eps, *ep)
	}
	rankers := []Ranker{NewRandom(1), NewPopularity(1), NewOracle(1)}
	run := func(workers int) *Report {
		cfg := DefaultConfig()
		cfg.Workers = workers
		rep, err := Evaluate(context.Background(), rankers, eps, cfg)
		require.NoError(t, err)
		for i := range rep.Rows {
			rep.Rows[i].LatencyMS = 0
		}
		return rep
	}
	one := run(1)
	assert.Equal(t, one, run(3), "1 and 3 workers give different reports")
	var order [][2]string
	for _, r := range one.Rows {
		order = append(order, [2]string{r.Need, r.Ranker})
		assert.Equal(t, 20, r.Episodes)
		for _, s := range r.Metrics {
			assert.LessOrEqual(t, s.Low, s.Mean, "%s %s %s: low bound above the mean", r.Ranker, r.Need, s.Name)
			assert.GreaterOrEqual(t, s.High, s.Mean, "%s %s %s: high bound below the mean", r.Ranker, r.Need, s.Name)
		}
	}
	assert.Equal(t, [][2]string{{"interest", "random"}, {"interest", "popularity"}, {"interest", "oracle"},
		{"explore", "random"}, {"explore", "popularity"}, {"explore", "oracle"}}, order)
	oracle, ok := one.Row("oracle", "interest")
	require.True(t, ok)
	s, _ := oracle.Stat("ndcg@30")
	assert.InDelta(t, 1, s.Mean, 1e-12, "the oracle's NDCG@30 on its own need")
}

func TestQuantile(t *testing.T) {
	sorted := []float64{1, 2, 3, 4}
	for _, tt := range []struct{ q, want float64 }{{0, 1}, {0.25, 1.75}, {0.5, 2.5}, {1, 4}} {
		assert.InDelta(t, tt.want, quantile(sorted, tt.q), 1e-12, "quantile(%v, %v)", sorted, tt.q)
	}
}

func TestBootstrap(t *testing.T) {
	col := func(v ...float64) [][]float64 {
		out := make([][]float64, len(v))
		for i, x := range v {
			out[i] = []float64{x, 1 - x}
		}
		return out
	}
	lo, hi := bootstrap(col(0.3, 0.3, 0.3), 200, 0.95, [2]uint64{1, 2})
	assert.InDeltaSlice(t, []float64{0.3, 0.7}, lo, 1e-12, "constant values give a zero-width interval")
	assert.InDeltaSlice(t, []float64{0.3, 0.7}, hi, 1e-12, "constant values give a zero-width interval")
	lo, hi = bootstrap(col(0, 1, 1, 1), 0, 0.95, [2]uint64{1, 2})
	assert.Equal(t, []float64{0.75, 0.25}, lo, "no resamples: the bounds are the means")
	assert.Equal(t, lo, hi, "no resamples: the bounds are the means")
	// 400 fair coin flips: the 95% interval of the mean is about
	// ±1.96·sqrt(0.25/400) = ±0.049 wide.
	rng := rand.New(rand.NewPCG(5, 6))
	flips := make([]float64, 400)
	for i := range flips {
		flips[i] = float64(rng.IntN(2))
	}
	v := col(flips...)
	lo, hi = bootstrap(v, 2000, 0.95, [2]uint64{1, 2})
	assert.InDelta(t, 2*1.96*math.Sqrt(0.25/400), hi[0]-lo[0], 0.015, "interval width of 400 coin flips")
	var m float64
	for _, x := range flips {
		m += x / 400
	}
	assert.True(t, lo[0] < m && m < hi[0], "interval [%v, %v] holds the mean %v", lo[0], hi[0], m)
	// measure 1 is 1 - measure 0 on the same resamples: mirrored bounds.
	assert.InDelta(t, 1-hi[0], lo[1], 1e-12, "paired resamples across measures")
	lo2, hi2 := bootstrap(v, 2000, 0.95, [2]uint64{1, 2})
	assert.Equal(t, [2][]float64{lo, hi}, [2][]float64{lo2, hi2}, "same seed, same interval")
}

// BenchmarkBootstrap is the intervals of one row: the 9 default measures
// over the 610 users of ml-latest-small with the default 1000 resamples.
func BenchmarkBootstrap(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	v := make([][]float64, 610)
	for i := range v {
		v[i] = make([]float64, 9)
		for m := range v[i] {
			v[i][m] = rng.Float64()
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		bootstrap(v, 1000, 0.95, [2]uint64{1, 2})
	}
}
