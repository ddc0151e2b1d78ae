package mf

import (
	"context"
	"math/rand/v2"
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

// trainBPRReference is trainBPR as it was before the sampled rating's user
// was stored: a binary search over the user offsets per step. It stays as
// the oracle that the faster sampling draws the same steps.
func trainBPRReference(ctx context.Context, s *sparse, m *Model, cfg Config) error {
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x627072))
	n := len(s.uItem)
	for e := 0; e < cfg.Epochs; e++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		for step := 0; step < n; step++ {
			k := rng.IntN(n)
			u := sort.SearchInts(s.uStart, k+1) - 1
			row := s.uItem[s.uStart[u]:s.uStart[u+1]]
			for try := 0; try < 10; try++ {
				j := rng.IntN(s.nItems)
				if x := sort.SearchInts(row, j); x == len(row) || row[x] != j {
					bprStep(m, u, s.uItem[k], j, cfg)
					break
				}
			}
		}
	}
	return nil
}

// TestBPRMatchesReference: Train draws exactly the steps of the reference
// sampler, so the models are bit for bit equal, for several seeds, on
// data with repeated pairs and users whose rows fill the catalogue.
func TestBPRMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var data []Rating
	for k := 0; k < 3000; k++ {
		u, i := rng.IntN(60), rng.IntN(80)
		if u < 3 { // a user who met almost every item: negatives are rare
			i = k % 79
		}
		data = append(data, Rating{User: "u" + strconv.Itoa(u), Item: "i" + strconv.Itoa(i), Value: 1})
	}
	for _, seed := range []int64{0, 1, 7, 12345} {
		cfg := DefaultBPRConfig()
		cfg.Seed, cfg.Epochs = seed, 5
		got, err := Train(context.Background(), data, cfg)
		require.NoError(t, err, "Train seed %d", seed)
		s := newSparse(data)
		want := s.initModel(cfg)
		require.NoError(t, trainBPRReference(context.Background(), s, want, cfg))
		assert.Equal(t, want.p, got.p, "seed %d: user factors", seed)
		assert.Equal(t, want.q, got.q, "seed %d: item factors", seed)
		assert.Equal(t, want.ib, got.ib, "seed %d: item biases", seed)
	}
}
