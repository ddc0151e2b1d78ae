package testbed

import (
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/flexrec/flexrec/prompt"
)

// The base features of a candidate, in the order of every feature block.
// Affinity, rating, popularity and recent popularity are standardised over
// the episode's candidates (z-scores; 0 when all are equal), so that a
// weight means the same in every episode; genre match and novelty are
// shares in [0, 1].
const (
	// FeatAffinity is the implicit-feedback MF score (BPR) of the pair.
	FeatAffinity = iota
	// FeatRating is the predicted rating (ALS) of the pair.
	FeatRating
	// FeatPopularity is log(1 + Candidate.Popularity).
	FeatPopularity
	// FeatRecent is log(1 + Candidate.RecentPopularity).
	FeatRecent
	// FeatMatch is the mean over the candidate's genres of the share of
	// history items that carry the genre.
	FeatMatch
	// FeatNovelty is the share of the candidate's genres that no history
	// item carries.
	FeatNovelty
	// NumBase is the number of base features.
	NumBase
)

// FeatureNames names the base features, index-aligned with the constants.
var FeatureNames = [NumBase]string{"affinity", "rating", "popularity", "recent_popularity", "genre_match", "genre_novelty"}

// Scorer scores a user–item pair, e.g. mf.Model.Score. It must be safe for
// concurrent use and return finite values.
type Scorer func(user, item string) float64

// Dim returns the number of weights of a policy over numNeeds needs: a
// shared block of NumBase weights, then one block per need that only the
// need's episodes switch on (the one-hot need × feature interactions).
func Dim(numNeeds int) int { return NumBase * (1 + numNeeds) }

// FeatureName returns the name of weight k of a policy over needs, e.g.
// "affinity" (shared block) or "explore:genre_novelty".
func FeatureName(needs []string, k int) string {
	block, f := k/NumBase, k%NumBase
	if block == 0 {
		return FeatureNames[f]
	}
	return needs[block-1] + ":" + FeatureNames[f]
}

// featurize returns the n×Dim(numNeeds) features of ep, whose need has
// index need: the base features in the shared block and in the need's
// block, zeros elsewhere.
func featurize(ep *prompt.Episode, need, numNeeds int, affinity, rating Scorer) []float64 {
	n, d := len(ep.Candidates), Dim(numNeeds)
	base := make([][NumBase]float64, n)
	freq := genreCounts(ep.History)
	for i, c := range ep.Candidates {
		b := &base[i]
		b[FeatAffinity] = affinity(ep.UserID, c.ItemID)
		b[FeatRating] = rating(ep.UserID, c.ItemID)
		b[FeatPopularity] = math.Log1p(max(c.Popularity, 0))
		b[FeatRecent] = math.Log1p(max(c.RecentPopularity, 0))
		b[FeatMatch], b[FeatNovelty] = genreShares(c.Categories, freq, len(ep.History))
	}
	for _, f := range []int{FeatAffinity, FeatRating, FeatPopularity, FeatRecent} {
		standardize(base, f)
	}
	x := make([]float64, n*d)
	for i := range base {
		row := x[i*d : (i+1)*d]
		copy(row[:NumBase], base[i][:])
		copy(row[NumBase*(1+need):NumBase*(2+need)], base[i][:])
	}
	return x
}

// genreCounts counts, per genre, the history items that carry it.
func genreCounts(hist []prompt.HistoryItem) map[string]int {
	freq := map[string]int{}
	for _, h := range hist {
		for _, c := range h.Categories {
			freq[c]++
		}
	}
	return freq
}

// genreShares returns the genre match (mean share of history items per
// genre of the candidate) and novelty (share of its genres unseen in the
// history); both 0 for a candidate without genres.
func genreShares(cats []string, freq map[string]int, h int) (float64, float64) {
	if len(cats) == 0 {
		return 0, 0
	}
	var match, novel float64
	for _, c := range cats {
		k := freq[c]
		if k == 0 {
			novel++
		}
		if h > 0 {
			match += float64(k) / float64(h)
		}
	}
	return match / float64(len(cats)), novel / float64(len(cats))
}

// standardize replaces feature f of every candidate by its z-score over
// the candidates (population standard deviation); all equal gives 0.
func standardize(base [][NumBase]float64, f int) {
	n := float64(len(base))
	var sum, ss float64
	for i := range base {
		sum += base[i][f]
	}
	mean := sum / n
	for i := range base {
		ss += (base[i][f] - mean) * (base[i][f] - mean)
	}
	sd := math.Sqrt(ss / n)
	for i := range base {
		if sd < 1e-12 {
			base[i][f] = 0
		} else {
			base[i][f] = (base[i][f] - mean) / sd
		}
	}
}

// localCategories returns, per candidate of ep, its categories as ids
// local to the episode (0, 1, ... in order of first appearance), and the
// number of ids.
func localCategories(ep *prompt.Episode) ([][]int, int) {
	ids := map[string]int{}
	out := make([][]int, len(ep.Candidates))
	for i, c := range ep.Candidates {
		for _, cat := range c.Categories {
			id, ok := ids[cat]
			if !ok {
				id = len(ids)
				ids[cat] = id
			}
			out[i] = append(out[i], id)
		}
	}
	return out, len(ids)
}

// evalOrder returns the fixed prompt order of an evaluation episode: a
// shuffle of its n candidates seeded by a hash of its id (shown[j] = place
// of candidate j).
func evalOrder(id string, n int) []int {
	h := fnv.New64a()
	h.Write([]byte("testbed\x00order\x00" + id))                              // hash writes cannot fail
	return shuffleOrder(nil, n, rand.New(rand.NewPCG(h.Sum64(), 0x6f726472))) // "ordr"
}
