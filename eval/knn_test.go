package eval

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/prompt"
)

// mlSmallSplits builds the interest and explore episodes of the embedded
// ml-latest-small once for all tests and benchmarks.
var mlSmallSplits = sync.OnceValues(func() ([]*dataset.Split, error) {
	ds, err := dataset.Load(context.Background(), dataset.BuiltinMLLatestSmall)
	if err != nil {
		return nil, err
	}
	var out []*dataset.Split
	for _, id := range []string{"interest", "explore"} {
		cfg := dataset.DefaultBuildConfig()
		if cfg.Need, err = prompt.LookupNeed(id); err != nil {
			return nil, err
		}
		sp, err := dataset.Build(context.Background(), ds, cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, nil
})

func loadSplits(tb testing.TB) []*dataset.Split {
	tb.Helper()
	sps, err := mlSmallSplits()
	require.NoError(tb, err, "build ml-latest-small episodes")
	return sps
}

// trainCopies returns k disjoint copies of train (copy c suffixes user and
// item ids with "~c"): k× the data with the same shape, so a ranking of a
// copy-0 episode should cost the same at every k.
func trainCopies(train []dataset.Interaction, k int) []dataset.Interaction {
	out := make([]dataset.Interaction, 0, k*len(train))
	for c := range k {
		for _, in := range train {
			if c > 0 {
				s := "~" + strconv.Itoa(c)
				in.User, in.Item = in.User+s, in.Item+s
			}
			out = append(out, in)
		}
	}
	return out
}

// randomTrain is a generated interaction log: 300 users over 500 items
// with skewed popularity and repeated pairs.
func randomTrain() []dataset.Interaction {
	rng := rand.New(rand.NewPCG(11, 12))
	var out []dataset.Interaction
	for range 20000 {
		u, i := rng.IntN(300), int(rng.ExpFloat64()*60)%500
		out = append(out, dataset.Interaction{User: "u" + strconv.Itoa(u), Item: "c" + strconv.Itoa(i), Value: 4})
	}
	return out
}

// scores returns the raw scores of a scoring ranker.
func scores(t *testing.T, r Ranker, ep *prompt.Episode) []float64 {
	t.Helper()
	s, ok := r.(*scorer)
	require.True(t, ok, "%s is a scorer", r.Name())
	dst := make([]float64, len(ep.Candidates))
	require.NoError(t, s.score(context.Background(), ep, dst), "%s.score(%s)", r.Name(), ep.ID)
	return dst
}

// TestKNNMatchesReference: item-knn and user-knn give bit-identical scores
// to the implementation they replaced, on every ml-latest-small interest
// and explore episode, for users in and out of the training data, several
// neighbourhood sizes, and a generated log.
func TestKNNMatchesReference(t *testing.T) {
	type setup struct {
		name  string
		train []dataset.Interaction
		eps   []prompt.Episode
	}
	var setups []setup
	for _, sp := range loadSplits(t) {
		setups = append(setups, setup{"ml-latest-small/" + sp.Need, sp.Train, sp.Episodes})
	}
	gen := randomTrain()
	var genEps []prompt.Episode
	for e := range 150 {
		ep := syntheticEpisode(40, uint64(e))
		ep.UserID = "u" + strconv.Itoa(e*3) // u0..u447: some unknown to the log
		for h := range ep.History {
			ep.History[h].ItemID = "c" + strconv.Itoa((e+h*7)%520)
		}
		for c := range ep.Candidates {
			ep.Candidates[c].ItemID = "c" + strconv.Itoa((e*13+c*11)%540)
		}
		genEps = append(genEps, *ep)
	}
	setups = append(setups, setup{"generated", gen, genEps})
	// Many users, short profiles: a ranking touches far fewer than an
	// eighth of the users, so the sparse paths run.
	rng := rand.New(rand.NewPCG(13, 14))
	var sparse []dataset.Interaction
	for range 20000 {
		sparse = append(sparse, dataset.Interaction{User: "u" + strconv.Itoa(rng.IntN(5000)), Item: "c" + strconv.Itoa(rng.IntN(2000)), Value: 4})
	}
	setups = append(setups, setup{"generated sparse", sparse, genEps})
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			m, ref := newInteractions(s.train), newRefInteractions(s.train)
			pairs := [][2]Ranker{{newItemKNN(m, 1), refItemKNN(ref, 1)}}
			for _, k := range []int{0, 1, 5, 50} {
				pairs = append(pairs, [2]Ranker{newUserKNN(m, k, 1), refUserKNN(ref, k, 1)})
			}
			for e := range s.eps {
				ep := s.eps[e]
				if e%5 == 0 {
					ep.UserID = "unknown-user" // profile from the history
				}
				for _, p := range pairs {
					require.Equal(t, scores(t, p[1], &ep), scores(t, p[0], &ep), "%s scores of %s (user %s)", p[0].Name(), ep.ID, ep.UserID)
				}
			}
		})
	}
}

// BenchmarkKNN ranks the ml-latest-small interest episodes with the KNN
// rankers trained on 1 and 4 disjoint copies of the training data: the
// time per ranking (ns/rank) should not grow with the copies.
func BenchmarkKNN(b *testing.B) {
	sp := loadSplits(b)[0]
	eps := sp.Episodes[:200]
	for _, k := range []int{1, 4} {
		m := newInteractions(trainCopies(sp.Train, k))
		for _, r := range []Ranker{newItemKNN(m, 1), newUserKNN(m, defaultUserKNNNeighbors, 1)} {
			b.Run(r.Name()+"/x"+strconv.Itoa(k), func(b *testing.B) { benchRank(b, r, eps) })
		}
	}
}

// BenchmarkPromptOrder ranks the ml-latest-small interest episodes in
// prompt order.
func BenchmarkPromptOrder(b *testing.B) {
	sp := loadSplits(b)[0]
	benchRank(b, NewPromptOrder(1, prompt.DefaultOptions(), nil), sp.Episodes[:200])
}

func benchRank(b *testing.B, r Ranker, eps []prompt.Episode) {
	b.ReportAllocs()
	for b.Loop() {
		for e := range eps {
			if _, err := r.Rank(context.Background(), &eps[e]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(eps)), "ns/rank")
}
