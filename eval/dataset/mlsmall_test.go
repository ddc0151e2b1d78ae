package dataset

import (
	"bytes"
	"cmp"
	"context"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/prompt"
)

// mlSmall loads the embedded ml-latest-small once for all tests.
var mlSmall = sync.OnceValues(func() (*Dataset, error) {
	return Load(context.Background(), BuiltinMLLatestSmall)
})

func loadMLSmall(t testing.TB) *Dataset {
	t.Helper()
	ds, err := mlSmall()
	require.NoError(t, err)
	return ds
}

func episodeBytes(t *testing.T, eps []prompt.Episode) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, WriteEpisodes(&b, eps))
	return b.Bytes()
}

// TestBuildDeterministic builds twice with the same flags (every random
// option on) and compares the episode files byte for byte.
func TestBuildDeterministic(t *testing.T) {
	ds := loadMLSmall(t)
	for _, id := range []string{"interest", "explore", "trend"} {
		t.Run(id, func(t *testing.T) {
			cfg := DefaultBuildConfig()
			cfg.Need, cfg.Sparse, cfg.Negatives.PopularityMatched, cfg.Seed = need(t, id), 0.1, true, 7
			a, b := build(t, ds, cfg), build(t, ds, cfg)
			require.NotEmpty(t, a.Episodes)
			assert.True(t, bytes.Equal(episodeBytes(t, a.Episodes), episodeBytes(t, b.Episodes)), "same flags, different bytes")
			assert.Equal(t, a.Train, b.Train)
			cfg.Seed = 8
			c := build(t, ds, cfg)
			assert.False(t, bytes.Equal(episodeBytes(t, a.Episodes), episodeBytes(t, c.Episodes)), "seed ignored")
		})
	}
}

// TestBuildLimitIndependent: an episode does not depend on how many others
// are built.
func TestBuildLimitIndependent(t *testing.T) {
	ds := loadMLSmall(t)
	cfg := DefaultBuildConfig()
	all := build(t, ds, cfg)
	cfg.Limit = 25
	some := build(t, ds, cfg)
	require.Len(t, some.Episodes, 25)
	assert.Equal(t, all.Episodes[:25], some.Episodes)
	assert.Equal(t, all.Train, some.Train, "Train does not depend on Limit")
}

// TestBuildSparse: the sparse mode keeps the dense episodes (candidates and
// gains), observes about 10% of the candidates' and of the history's
// feedback, and keeps about 10% of the training interactions; a user–item
// pair is observed in every need's episodes or in none.
func TestBuildSparse(t *testing.T) {
	ds := loadMLSmall(t)
	cfg := DefaultBuildConfig()
	dense := build(t, ds, cfg)
	cfg.Sparse = DefaultSparse
	sparse := build(t, ds, cfg)
	require.Len(t, sparse.Episodes, len(dense.Episodes))
	observed, total := 0, 0
	for i, ep := range sparse.Episodes {
		d := dense.Episodes[i]
		assert.Equal(t, d.Candidates, ep.Candidates)
		assert.Equal(t, d.Labels.Gains, ep.Labels.Gains)
		for j := range ep.Candidates {
			if ep.Labels.IsObserved(j) {
				observed++
			}
		}
		total += len(ep.Candidates)
		require.Len(t, ep.Labels.HistoryObserved, len(ep.History))
		for j := range ep.History {
			if ep.HistoryIsObserved(j) {
				observed++
			}
		}
		total += len(ep.History)
	}
	// Binomial(~45k, 0.1): sd 0.0014, so 0.01 is seven sd.
	assert.InDelta(t, 0.1, float64(observed)/float64(total), 0.01)
	cfg.Need, _ = prompt.LookupNeed("trend")
	trend := build(t, ds, cfg)
	seen := map[[2]string]bool{}
	for _, ep := range sparse.Episodes {
		for j, c := range ep.Candidates {
			seen[[2]string{ep.UserID, c.ItemID}] = ep.Labels.IsObserved(j)
		}
	}
	checked := 0
	for _, ep := range trend.Episodes {
		for j, c := range ep.Candidates {
			if obs, ok := seen[[2]string{ep.UserID, c.ItemID}]; ok {
				assert.Equal(t, obs, ep.Labels.IsObserved(j), "pair %s/%s observed in one need only", ep.UserID, c.ItemID)
				checked++
			}
		}
	}
	assert.Positive(t, checked, "the needs share candidate pairs")
	assert.Equal(t, len(dense.Train), sparse.TrainTotal)
	// Binomial(94736, 0.1): sd 0.001, so 0.01 is ten sd.
	assert.InDelta(t, 0.1, float64(len(sparse.Train))/float64(sparse.TrainTotal), 0.01)
}

// userOracle recomputes a user's leave-last-out split from the raw
// interactions: sorted by time, file order breaking ties, last 10 held out.
type userOracle struct {
	before  []Interaction
	heldOut map[string]float64
	cut     int64
}

func oracles(ds *Dataset) map[string]*userOracle {
	by := map[string][]Interaction{}
	for _, in := range ds.Interactions {
		by[in.User] = append(by[in.User], in)
	}
	out := map[string]*userOracle{}
	for u, ins := range by {
		slices.SortStableFunc(ins, func(a, b Interaction) int { return cmp.Compare(a.Time, b.Time) })
		k := len(ins) - 10
		o := &userOracle{before: ins[:k], heldOut: map[string]float64{}, cut: ins[k].Time}
		for _, in := range ins[k:] {
			o.heldOut[in.Item] = in.Value
		}
		out[u] = o
	}
	return out
}

// TestBuildAgainstOracle checks every interest episode of ml-latest-small
// against a brute-force recomputation from the raw ratings.
func TestBuildAgainstOracle(t *testing.T) {
	ds := loadMLSmall(t)
	sp := build(t, ds, DefaultBuildConfig())
	assert.Equal(t, 610, sp.Users)
	assert.Equal(t, sp.Users, len(sp.Episodes)+sp.Dropped+sp.Skipped)
	orc := oracles(ds)
	for _, ep := range sp.Episodes {
		o := orc[ep.UserID]
		require.NoError(t, ep.Validate())
		require.Len(t, ep.Candidates, 30, ep.ID)
		assert.Equal(t, o.cut, ep.CutTime, ep.ID)
		last := o.before[max(0, len(o.before)-50):]
		require.Len(t, ep.History, len(last), ep.ID)
		met := map[string]bool{}
		for _, in := range o.before {
			met[in.Item] = true
		}
		for i, h := range ep.History {
			assert.Equal(t, last[i].Item, h.ItemID)
		}
		nRel, nHeldNeg := 0, 0
		for i, c := range ep.Candidates {
			assert.False(t, met[c.ItemID], "%s: candidate %s met before the cut", ep.ID, c.ItemID)
			v, held := o.heldOut[c.ItemID]
			assert.Equal(t, v, ep.Labels.Gains[i], "%s: gain of %s", ep.ID, c.ItemID)
			assert.Equal(t, v > 3.5, ep.Labels.Relevant[i])
			if ep.Labels.Relevant[i] {
				nRel++
			} else if held {
				nHeldNeg++
			}
		}
		avail := 0
		for _, v := range o.heldOut {
			if v <= 3.5 {
				avail++
			}
		}
		assert.True(t, nRel >= 1 && nRel <= 10, "%s: %d relevant", ep.ID, nRel)
		assert.Equal(t, min(avail, int(math.Round(0.5*float64(30-nRel)))), nHeldNeg, "%s: held-out negatives", ep.ID)
	}
}

// TestBuildPopularityOracle checks Popularity and RecentPopularity of the
// first 10 episodes by counting over all ratings.
func TestBuildPopularityOracle(t *testing.T) {
	ds := loadMLSmall(t)
	cfg := DefaultBuildConfig()
	cfg.Limit = 10
	for _, ep := range build(t, ds, cfg).Episodes {
		want := map[string][2]float64{}
		for _, in := range ds.Interactions {
			if in.Time < ep.CutTime {
				p := want[in.Item]
				p[0]++
				if in.Time >= ep.CutTime-30*day {
					p[1]++
				}
				want[in.Item] = p
			}
		}
		for _, c := range ep.Candidates {
			assert.Equal(t, want[c.ItemID], [2]float64{c.Popularity, c.RecentPopularity}, "%s: %s", ep.ID, c.ItemID)
		}
	}
}

// TestBuildNoPositionLeak: relevant candidates sit at uniformly random
// positions, mean (N-1)/2 = 14.5; over about 3,400 of them the standard
// error is 0.15, so 1.0 is more than six.
func TestBuildNoPositionLeak(t *testing.T) {
	sp := build(t, loadMLSmall(t), DefaultBuildConfig())
	sum, n := 0.0, 0
	for _, ep := range sp.Episodes {
		for i, r := range ep.Labels.Relevant {
			if r {
				sum += float64(i)
				n++
			}
		}
	}
	require.Greater(t, n, 1000)
	assert.InDelta(t, 14.5, sum/float64(n), 1.0)
}

// TestBuildPopularityMatched: with every negative unseen, matched negatives
// are closer in mean log popularity to the positives than uniform ones.
func TestBuildPopularityMatched(t *testing.T) {
	ds := loadMLSmall(t)
	gap := func(matched bool) float64 {
		cfg := DefaultBuildConfig()
		cfg.Negatives.HeldOut, cfg.Negatives.PopularityMatched = 0, matched
		var pos, neg []float64
		for _, ep := range build(t, ds, cfg).Episodes {
			for i, c := range ep.Candidates {
				if ep.Labels.Relevant[i] {
					pos = append(pos, math.Log1p(c.Popularity))
				} else {
					neg = append(neg, math.Log1p(c.Popularity))
				}
			}
		}
		return math.Abs(mean(pos) - mean(neg))
	}
	uniform, matched := gap(false), gap(true)
	t.Logf("mean log1p popularity gap: uniform %.3f, matched %.3f", uniform, matched)
	assert.Less(t, matched, uniform/2)
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// BenchmarkBuildMLLatestSmall builds the episodes of every ml-latest-small
// user (the load is outside the timer).
func BenchmarkBuildMLLatestSmall(b *testing.B) {
	ds := loadMLSmall(b)
	for _, id := range []string{"interest", "explore", "trend"} {
		b.Run(id, func(b *testing.B) {
			cfg := DefaultBuildConfig()
			cfg.Need, _ = prompt.LookupNeed(id)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Build(context.Background(), ds, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadMLLatestSmall reads the embedded zip.
func BenchmarkLoadMLLatestSmall(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(context.Background(), BuiltinMLLatestSmall); err != nil {
			b.Fatal(err)
		}
	}
}
