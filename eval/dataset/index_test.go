package dataset

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSortByTime checks both paths of sortByTime (packed keys, and the
// comparison sort for times past 2^32) against a stable sort by time.
func TestSortByTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		base int64
	}{{"packed", 1_000_000}, {"beyond 2^32", math.MaxUint32 - 3}} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			ds := &Dataset{}
			for range 500 {
				ds.Interactions = append(ds.Interactions, Interaction{Time: tc.base + rng.Int64N(8)}) // many ties
			}
			ix := &index{ds: ds}
			list := make([]int32, len(ds.Interactions))
			for i := range list {
				list[i] = int32(i)
			}
			rng.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
			want := make([]int32, len(list))
			for i := range want {
				want[i] = int32(i)
			}
			slices.SortStableFunc(want, func(a, b int32) int { return cmp.Compare(ds.Interactions[a].Time, ds.Interactions[b].Time) })
			ix.sortByTime(list, nil)
			assert.Equal(t, want, list)
		})
	}
}
