package eval

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The worked example of the metric tests, computed by hand:
// gains 3 0 5 1 0, relevant = gain > 2 (candidates 0 and 2), ranking 1 0 2 4 3.
var (
	exGains    = []float64{3, 0, 5, 1, 0}
	exRelevant = []bool{true, false, true, false, false}
	exRanking  = []int{1, 0, 2, 4, 3}
)

func TestMetricsHandComputed(t *testing.T) {
	log3 := math.Log2(3)
	tests := []struct {
		name    string
		metric  Metric
		ranking []int
		k       int
		want    float64
	}{
		// DCG@3 = 0/1 + 3/log2 3 + 5/2; IDCG@3 = 5/1 + 3/log2 3 + 1/2.
		{"ndcg@3", NDCG, exRanking, 3, (3/log3 + 2.5) / (5 + 3/log3 + 0.5)},
		{"ndcg@1 first item has gain 0", NDCG, exRanking, 1, 0},
		// whole list: DCG adds 0/log2 5 + 1/log2 6.
		{"ndcg whole list", NDCG, exRanking, 0, (3/log3 + 2.5 + 1/math.Log2(6)) / (5 + 3/log3 + 0.5)},
		{"ndcg k past the end", NDCG, exRanking, 99, (3/log3 + 2.5 + 1/math.Log2(6)) / (5 + 3/log3 + 0.5)},
		{"ndcg ideal ranking", NDCG, []int{2, 0, 3, 1, 4}, 5, 1},
		// a partial ranking is scored against the ideal over all candidates.
		{"ndcg partial ranking", NDCG, []int{2}, 3, 5 / (5 + 3/log3 + 0.5)},
		{"recall@1", Recall, exRanking, 1, 0},
		{"recall@2", Recall, exRanking, 2, 0.5},
		{"recall@3", Recall, exRanking, 3, 1},
		{"mrr@1", MRR, exRanking, 1, 0},
		{"mrr@2", MRR, exRanking, 2, 0.5},
		{"mrr@5", MRR, exRanking, 5, 0.5},
		{"hit@1", HitRate, exRanking, 1, 0},
		{"hit@2", HitRate, exRanking, 2, 1},
		{"precision@2", Precision, exRanking, 2, 0.5},
		{"precision@3", Precision, exRanking, 3, 2.0 / 3},
		{"precision whole list", Precision, exRanking, 10, 2.0 / 5},
		{"meangain@2", MeanGain, exRanking, 2, 1.5},
		{"meangain@3", MeanGain, exRanking, 3, 8.0 / 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.metric(exGains, exRelevant, tt.ranking, tt.k)
			assert.InDelta(t, tt.want, got, 1e-12, "%s: got %v, want %v", tt.name, got, tt.want)
		})
	}
}

func TestMetricsEdgeCases(t *testing.T) {
	all := map[string]Metric{"ndcg": NDCG, "recall": Recall, "mrr": MRR, "hit": HitRate, "precision": Precision, "meangain": MeanGain}
	tests := []struct {
		name     string
		gains    []float64
		relevant []bool
		ranking  []int
		k        int
		want     map[string]float64 // metrics not listed must give 0
	}{
		{"zero gains and no relevant give 0", []float64{0, 0, 0}, []bool{false, false, false}, []int{0, 1, 2}, 2, nil},
		{"empty ranking gives 0", exGains, exRelevant, nil, 3, nil},
		{"empty candidate set gives 0", nil, nil, nil, 3, nil},
		{"out-of-range entries count as irrelevant", exGains, exRelevant, []int{-1, 7, 2}, 3,
			map[string]float64{"ndcg": (5 / math.Log2(4)) / (5 + 3/math.Log2(3) + 0.5), "recall": 0.5, "mrr": 1.0 / 3, "hit": 1, "precision": 1.0 / 3, "meangain": 5.0 / 3}},
		{"negative gains count as 0", []float64{-2, 4}, []bool{false, true}, []int{0, 1}, 2,
			map[string]float64{"ndcg": (4 / math.Log2(3)) / 4, "recall": 1, "mrr": 0.5, "hit": 1, "precision": 0.5, "meangain": 2}},
		{"repeated entries count once", exGains, exRelevant, []int{2, 2, 0, 2}, 4,
			map[string]float64{"ndcg": (5 + 3/math.Log2(4)) / (5 + 3/math.Log2(3) + 0.5 + 0), "recall": 1, "mrr": 1, "hit": 1, "precision": 2.0 / 4, "meangain": 8.0 / 4}},
		{"repeats past index 255 count once", make([]float64, 300), append(make([]bool, 299), true), []int{299, 299}, 2,
			map[string]float64{"recall": 1, "mrr": 1, "hit": 1, "precision": 0.5}},
		{"nil relevant with gains", []float64{1, 2}, nil, []int{1, 0}, 1, map[string]float64{"ndcg": 1, "meangain": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, m := range all {
				got := m(tt.gains, tt.relevant, tt.ranking, tt.k)
				assert.InDelta(t, tt.want[name], got, 1e-12, "%s(%v, %v, %v, %d): got %v, want %v", name, tt.gains, tt.relevant, tt.ranking, tt.k, got, tt.want[name])
			}
		})
	}
}

// TestIDCGAgainstSort checks the allocation-free top-k insertion against a
// full sort, on both sides of the stack-buffer limit.
func TestIDCGAgainstSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n := 1 + rng.IntN(150)
		gains := make([]float64, n)
		for i := range gains {
			if rng.IntN(3) > 0 { // a third stay 0, and ties are common
				gains[i] = float64(rng.IntN(6))
			}
		}
		k := rng.IntN(n+10) - 2
		sorted := append([]float64(nil), gains...)
		sort.Sort(sort.Reverse(sort.Float64Slice(sorted)))
		want := 0.0
		for p := 0; p < cutoff(k, n); p++ {
			want += sorted[p] / math.Log2(float64(p)+2)
		}
		assert.InDelta(t, want, IDCG(gains, k), 1e-9, "trial %d: IDCG(n=%d, k=%d)", trial, n, k)
	}
}

func TestIsPermutation(t *testing.T) {
	seen := make([]bool, 4)
	tests := []struct {
		ranking []int
		want    bool
	}{
		{[]int{2, 0, 3, 1}, true},
		{[]int{2, 0, 3}, false},
		{[]int{2, 0, 3, 3}, false},
		{[]int{2, 0, 3, 4}, false},
		{[]int{-1, 0, 1, 2}, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, isPermutation(tt.ranking, 4, seen), "isPermutation(%v, 4)", tt.ranking)
		assert.Equal(t, []bool{false, false, false, false}, seen, "scratch cleared after %v", tt.ranking)
	}
}

// BenchmarkMetricsPerEpisode scores one N = 30 episode with every default
// measure, as Evaluate does for each ranker and episode. Target: < 2 µs,
// 0 allocs.
func BenchmarkMetricsPerEpisode(b *testing.B) {
	ep := syntheticEpisode(30, 1)
	j := judge(ep)
	ms := DefaultMeasures()
	dst := make([]float64, len(ms))
	ranking := rand.New(rand.NewPCG(3, 4)).Perm(30)
	b.ReportAllocs()
	for b.Loop() {
		j.score(ms, ranking, dst)
	}
}

// FuzzMetrics feeds arbitrary gains, relevance and rankings (duplicates and
// out-of-range entries included) to every metric: none may panic, and all
// but MeanGain stay in [0, 1].
func FuzzMetrics(f *testing.F) {
	f.Add([]byte{3, 0, 5, 1, 0}, []byte{1, 0, 2, 4, 3}, 3)
	f.Add([]byte{}, []byte{7, 7, 255}, -1)
	f.Fuzz(func(t *testing.T, g, r []byte, k int) {
		gains := make([]float64, len(g))
		relevant := make([]bool, len(g))
		for i, b := range g {
			gains[i] = float64(int8(b)) / 4
			relevant[i] = b%3 == 0
		}
		ranking := make([]int, len(r))
		for i, b := range r {
			ranking[i] = int(int8(b))
		}
		for name, m := range map[string]Metric{"ndcg": NDCG, "recall": Recall, "mrr": MRR, "hit": HitRate, "precision": Precision} {
			v := m(gains, relevant, ranking, k)
			if !(v >= 0 && v <= 1+1e-12) {
				t.Fatalf("%s(%v, %v, %v, %d) = %v, want in [0, 1]", name, gains, relevant, ranking, k, v)
			}
		}
		if v := MeanGain(gains, nil, ranking, k); v < 0 || math.IsNaN(v) {
			t.Fatalf("MeanGain = %v, want >= 0", v)
		}
	})
}
