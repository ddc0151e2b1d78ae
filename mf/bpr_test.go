package mf

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copiesOf returns k disjoint copies of data: copy c suffixes every user
// and item id with "~c", so the data grows k× with the same shape.
func copiesOf(data []Rating, k int) []Rating {
	out := make([]Rating, 0, k*len(data))
	for c := range k {
		for _, r := range data {
			if c > 0 {
				s := "~" + strconv.Itoa(c)
				r.User, r.Item = r.User+s, r.Item+s
			}
			out = append(out, r)
		}
	}
	return out
}

// BenchmarkTrainBPRMovieLens trains BPR (the defaults) on 1 and 4 disjoint
// copies of ml-latest-small: the time per op should grow 4×, no more.
func BenchmarkTrainBPRMovieLens(b *testing.B) {
	data := loadML(b)
	for _, k := range []int{1, 4} {
		train := copiesOf(data, k)
		b.Run("x"+strconv.Itoa(k), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, err := Train(context.Background(), train, DefaultBPRConfig())
				require.NoError(b, err)
			}
		})
	}
}

// trainBPRRandomOrder is trainBPR as it was before locality: every draw
// in random order, and the drawn rating's user found by a binary search
// over the user offsets. It stays as the quality reference of the sorted
// sweeps.
func trainBPRRandomOrder(ctx context.Context, s *sparse, m *Model, cfg Config) error {
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x627072))
	n := len(s.uItem)
	for e := 0; e < cfg.Epochs; e++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		for step := 0; step < n; step++ {
			k := rng.IntN(n)
			u := sort.SearchInts(s.uStart, k+1) - 1
			if j, ok := searchNegative(s, rng, u); ok {
				bprStep(m, u, s.uItem[k], j, cfg)
			}
		}
	}
	return nil
}

// searchNegative is sparse.negative, written out as the oracle.
func searchNegative(s *sparse, rng *rand.Rand, u int) (int, bool) {
	row := s.uItem[s.uStart[u]:s.uStart[u+1]]
	for try := 0; try < 10; try++ {
		j := rng.IntN(s.nItems)
		if x := sort.SearchInts(row, j); x == len(row) || row[x] != j {
			return j, true
		}
	}
	return 0, false
}

// trainBPRSearch is trainBPR with the drawn rating's user found by a binary
// search over the user offsets instead of read from ratingPairs, and the
// steps ordered by a sort instead of negativeBlocks.
func trainBPRSearch(ctx context.Context, s *sparse, m *Model, cfg Config) error {
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x627072))
	n := len(s.uItem)
	shift := newNegativeBlocks(s.nItems, cfg.Factors, 0).shift
	for e := 0; e < cfg.Epochs; e++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		for sweep := 0; sweep < bprSweeps; sweep++ {
			size := n / bprSweeps
			if sweep < n%bprSweeps {
				size++
			}
			var steps [][3]int
			for _, k := range sortedDraws(rng, n, make([]int32, size), make([]float64, size)) {
				u := sort.SearchInts(s.uStart, int(k)+1) - 1
				if j, ok := searchNegative(s, rng, u); ok {
					steps = append(steps, [3]int{u, s.uItem[k], j})
				}
			}
			slices.SortStableFunc(steps, func(a, b [3]int) int { return cmp.Compare(a[2]>>shift, b[2]>>shift) })
			for _, d := range steps {
				bprStep(m, d[0], d[1], d[2], cfg)
			}
		}
	}
	return nil
}

// bprData is a generated log with repeated pairs and users whose rows
// fill the catalogue.
func bprData() []Rating {
	rng := rand.New(rand.NewPCG(3, 4))
	var data []Rating
	for k := 0; k < 3000; k++ {
		u, i := rng.IntN(60), rng.IntN(80)
		if u < 3 { // a user who met almost every item: negatives are rare
			i = k % 79
		}
		data = append(data, Rating{User: "u" + strconv.Itoa(u), Item: "i" + strconv.Itoa(i), Value: 1})
	}
	return data
}

// TestBPRPairsMatchSearch: reading the drawn rating's user and item from
// ratingPairs gives bit for bit the model of a binary search, for several
// seeds and sizes (fewer ratings than sweeps included).
func TestBPRPairsMatchSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var wide []Rating // 5000 items: several negative blocks
	for k := 0; k < 4000; k++ {
		wide = append(wide, Rating{User: "u" + strconv.Itoa(rng.IntN(40)), Item: "i" + strconv.Itoa(rng.IntN(5000)), Value: 1})
	}
	for _, data := range [][]Rating{bprData(), bprData()[:5], wide} {
		for _, seed := range []int64{0, 1, 7, 12345} {
			cfg := DefaultBPRConfig()
			cfg.Seed, cfg.Epochs = seed, 5
			got, err := Train(context.Background(), data, cfg)
			require.NoError(t, err, "Train seed %d", seed)
			s := newSparse(data)
			want := s.initModel(cfg)
			require.NoError(t, trainBPRSearch(context.Background(), s, want, cfg))
			assert.Equal(t, want.p, got.p, "%d ratings, seed %d: user factors", len(data), seed)
			assert.Equal(t, want.q, got.q, "%d ratings, seed %d: item factors", len(data), seed)
			assert.Equal(t, want.ib, got.ib, "%d ratings, seed %d: item biases", len(data), seed)
		}
	}
}

// TestSortedDraws: ascending, in range, and uniform (each tenth of the
// range gets a tenth of the draws, within 4 standard deviations).
func TestSortedDraws(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	const n, m = 1000, 100000
	got := sortedDraws(rng, n, make([]int32, m), make([]float64, m))
	require.True(t, sort.SliceIsSorted(got, func(a, b int) bool { return got[a] < got[b] }), "sortedDraws is ascending")
	var tenths [10]float64
	for _, k := range got {
		require.True(t, k >= 0 && k < n, "draw %d in [0, %d)", k, n)
		tenths[k/(n/10)]++
	}
	for d, c := range tenths {
		assert.InDelta(t, m/10, c, 4*math.Sqrt(m*0.1*0.9), "draws in tenth %d", d)
	}
}

// heldOutAUC is the share of held-out (user, item) pairs that score above
// an item drawn uniformly from those the user never rated (seeded).
func heldOutAUC(m *Model, all, test []Rating) float64 {
	rated := map[[2]string]bool{}
	var items []string
	seen := map[string]bool{}
	for _, r := range all {
		rated[[2]string{r.User, r.Item}] = true
		if !seen[r.Item] {
			seen[r.Item] = true
			items = append(items, r.Item)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var wins, n float64
	for _, r := range test {
		j := items[rng.IntN(len(items))]
		if rated[[2]string{r.User, j}] {
			continue
		}
		n++
		if m.Score(r.User, r.Item) > m.Score(r.User, j) {
			wins++
		}
	}
	return wins / n
}

// TestBPRSweepsKeepQuality: applying each sweep's draws in a local order
// (positives by rating, then bucketed by negative block) ranks held-out
// ml-latest-small ratings as well as the reference sampler's random order,
// for several seeds.
func TestBPRSweepsKeepQuality(t *testing.T) {
	data := loadML(t)
	rng := rand.New(rand.NewPCG(1, 1))
	var train, test []Rating
	for _, r := range data {
		if rng.Float64() < 0.1 {
			test = append(test, r)
		} else {
			train = append(train, r)
		}
	}
	for _, seed := range []int64{1, 2} {
		cfg := DefaultBPRConfig()
		cfg.Seed = seed
		got, err := Train(context.Background(), train, cfg)
		require.NoError(t, err, "Train seed %d", seed)
		s := newSparse(train)
		ref := s.initModel(cfg)
		require.NoError(t, trainBPRRandomOrder(context.Background(), s, ref, cfg))
		a, b := heldOutAUC(got, data, test), heldOutAUC(ref, data, test)
		t.Logf("seed %d: held-out AUC %.4f in local order, %.4f in random order", seed, a, b)
		assert.Greater(t, a, b-0.005, "seed %d: held-out AUC of Train against the random-order reference", seed)
	}
}
