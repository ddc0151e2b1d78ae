package testbed

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/eval"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rl"
)

// measures are the table's measures, from package eval.
var measures = []Measure{
	{Name: "ndcg@5", Metric: Metric(eval.NDCG), K: 5},
	{Name: "recall@5", Metric: Metric(eval.Recall), K: 5},
}

// noise is an uninformative scorer: a hash of the pair in [−1, 1).
func noise(user, item string) float64 {
	h := fnv.New64a()
	h.Write([]byte(user + "|" + item))
	return float64(h.Sum64()>>11)/(1<<52) - 1
}

// syntheticNeeds are interest (engagement) and explore (novel engagement,
// no familiar genre).
func syntheticNeeds() []prompt.Need {
	interest, _ := prompt.LookupNeed("interest")
	explore, _ := prompt.LookupNeed("explore")
	return []prompt.Need{interest, explore}
}

// syntheticEpisode draws one episode of 10 candidates whose engagement
// grows with popularity (4.5 above 60, 2 above 30, else 0), which the
// initial policy (noise affinity) ignores; under explore the gain is kept
// only for items whose genre is absent from the history. Every other
// candidate is observed in the sparse sense.
func syntheticEpisode(rng *rand.Rand, user string, need prompt.Need) prompt.Episode {
	genres := []string{"a", "b", "c", "d", "e", "f"}
	ep := prompt.Episode{ID: need.ID + "/" + user, UserID: user, Need: need.ID,
		Labels: &prompt.Labels{}}
	for k := range 3 {
		ep.History = append(ep.History, prompt.HistoryItem{ItemID: fmt.Sprintf("h%d", k), Engagement: 4,
			Categories: []string{genres[rng.IntN(3)]}})
	}
	seen := genreCounts(ep.History)
	for i := range 10 {
		pop := 100 * rng.Float64()
		c := prompt.Candidate{ItemID: fmt.Sprintf("i%d", rng.IntN(1000)*10+i), Popularity: pop,
			RecentPopularity: 10 * rng.Float64(), Categories: []string{genres[rng.IntN(len(genres))]}}
		eng := 0.0
		switch {
		case pop > 60:
			eng = 4.5
		case pop > 30:
			eng = 2
		}
		overlap := 0
		if seen[c.Categories[0]] > 0 {
			overlap = 1
		}
		g := need.Gain.Gain(prompt.GainInput{Engagement: eng, Overlap: overlap})
		ep.Candidates = append(ep.Candidates, c)
		ep.Labels.Gains = append(ep.Labels.Gains, g)
		ep.Labels.Relevant = append(ep.Labels.Relevant, g > need.Threshold)
		ep.Labels.Observed = append(ep.Labels.Observed, i%2 == 0)
	}
	return ep
}

// constCritic predicts every engagement as N(mean, variance).
type constCritic struct{ mean, variance float64 }

func (c constCritic) Predict(string, string) (float64, float64) { return c.mean, c.variance }

// syntheticProblem builds a problem of train and held-out users, each with
// one interest and one explore episode, features from noise scorers, and a
// constant ensemble critic.
func syntheticProblem(t testing.TB, train, heldOut int) *Problem {
	rng := rand.New(rand.NewPCG(11, 12))
	needs := syntheticNeeds()
	d := Data{Dataset: "synthetic", Needs: needs, Affinity: noise, Rating: noise,
		Critics: map[string]rl.Predictor{"ensemble": constCritic{2, 1}}}
	for u := range train + heldOut {
		for _, n := range needs {
			ep := syntheticEpisode(rng, fmt.Sprintf("u%d", u), n)
			if u < train {
				d.Train = append(d.Train, ep)
			} else {
				d.HeldOut = append(d.HeldOut, ep)
			}
		}
	}
	p, err := NewProblem(d)
	require.NoError(t, err, "NewProblem")
	return p
}
