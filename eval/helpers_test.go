package eval

import (
	"fmt"
	"math/rand/v2"

	"github.com/flexrec/flexrec/prompt"
)

var testGenres = []string{"Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Western", "Musical"}

// syntheticEpisode builds an interest episode with n candidates: the
// history covers the first three genres; a third of the candidates are
// positives with ratings 3–5, the rest negatives with gain 0.
func syntheticEpisode(n int, seed uint64) *prompt.Episode {
	rng := rand.New(rand.NewPCG(seed, 7))
	ep := &prompt.Episode{ID: fmt.Sprintf("interest/u%d", seed), UserID: fmt.Sprint(seed), Need: "interest",
		Labels: &prompt.Labels{Gains: make([]float64, n), Relevant: make([]bool, n)}}
	for h := range 10 {
		ep.History = append(ep.History, prompt.HistoryItem{ItemID: fmt.Sprintf("h%d", h), Text: fmt.Sprintf("Old %d", h),
			Engagement: 4, Categories: []string{testGenres[h%3]}})
	}
	for i := range n {
		ep.Candidates = append(ep.Candidates, prompt.Candidate{ItemID: fmt.Sprintf("c%d", i), Text: fmt.Sprintf("Film %d", i),
			Categories: []string{testGenres[rng.IntN(len(testGenres))]}, Popularity: float64(rng.IntN(100)), RecentPopularity: float64(rng.IntN(10))})
		if rng.IntN(3) == 0 {
			ep.Labels.Gains[i] = float64(3 + rng.IntN(3))
			ep.Labels.Relevant[i] = ep.Labels.Gains[i] > 3.5
		}
	}
	return ep
}
