package eval

import (
	"fmt"
	"slices"

	"github.com/flexrec/flexrec/prompt"
)

// Input names the per-candidate values a Measure hands to its Metric.
type Input int

const (
	// InputNeed feeds the episode's labels: Labels.Gains and Labels.Relevant.
	InputNeed Input = iota
	// InputNovelty feeds the novelty mask (see Novelty) as relevant.
	InputNovelty
	// InputPopularity feeds Candidate.Popularity as gains.
	InputPopularity
	// InputRecentPopularity feeds Candidate.RecentPopularity as gains.
	InputRecentPopularity
)

// Measure is one column of a report: a Metric at a cutoff over an Input.
type Measure struct {
	// Name is the column name and JSON key, e.g. "ndcg@5".
	Name string `json:"name"`
	// Metric is the function; it must not be nil.
	Metric Metric `json:"-"`
	// K is the cutoff; 0 means the whole ranking.
	K int `json:"k"`
	// Input is what the metric reads.
	Input Input `json:"-"`
}

// DefaultMeasures returns the report's columns: NDCG@5, NDCG@10, NDCG@30,
// Recall@5, MRR@5 and HitRate@5 on the need's labels (the paper's metrics
// plus hit rate), then the diagnostics novel@5 (Precision@5 on the novelty
// mask, the novel-genre share of the top 5), pop@5 (MeanGain@5 on
// Candidate.Popularity, interactions before the cut) and recent_pop@5
// (MeanGain@5 on Candidate.RecentPopularity, interactions in the trend
// window). The slice is new on every call.
func DefaultMeasures() []Measure {
	return []Measure{
		{Name: "ndcg@5", Metric: NDCG, K: 5},
		{Name: "ndcg@10", Metric: NDCG, K: 10},
		{Name: "ndcg@30", Metric: NDCG, K: 30},
		{Name: "recall@5", Metric: Recall, K: 5},
		{Name: "mrr@5", Metric: MRR, K: 5},
		{Name: "hit@5", Metric: HitRate, K: 5},
		{Name: "novel@5", Metric: Precision, K: 5, Input: InputNovelty},
		{Name: "pop@5", Metric: MeanGain, K: 5, Input: InputPopularity},
		{Name: "recent_pop@5", Metric: MeanGain, K: 5, Input: InputRecentPopularity},
	}
}

// validateMeasures reports an empty list, a nil metric, a duplicate or
// empty name, or an unknown input.
func validateMeasures(ms []Measure) error {
	if len(ms) == 0 {
		return fmt.Errorf("eval: no measures")
	}
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		switch {
		case m.Name == "" || seen[m.Name]:
			return fmt.Errorf("eval: measure name %q empty or repeated", m.Name)
		case m.Metric == nil:
			return fmt.Errorf("eval: measure %q has no metric", m.Name)
		case m.Input < InputNeed || m.Input > InputRecentPopularity:
			return fmt.Errorf("eval: measure %q has unknown input %d", m.Name, m.Input)
		}
		seen[m.Name] = true
	}
	return nil
}

// Novelty returns the novelty mask of an episode's candidates: entry i is
// true when none of candidate i's categories appears among the categories
// of the episode's history (Overlaps(ep)[i] == 0; a candidate without
// categories is novel). It is the explore need's notion of a new topic with
// max_overlap 0.
func Novelty(ep *prompt.Episode) []bool {
	overlap := Overlaps(ep)
	novel := make([]bool, len(overlap))
	for i, o := range overlap {
		novel[i] = o == 0
	}
	return novel
}

// Overlaps returns, for each candidate, how many of its distinct
// categories appear among the categories of the episode's history.
func Overlaps(ep *prompt.Episode) []int {
	seen := make(map[string]bool)
	for _, h := range ep.History {
		for _, c := range h.Categories {
			seen[c] = true
		}
	}
	overlap := make([]int, len(ep.Candidates))
	for i, c := range ep.Candidates {
		for k, cat := range c.Categories {
			if seen[cat] && !slices.Contains(c.Categories[:k], cat) {
				overlap[i]++
			}
		}
	}
	return overlap
}

// judged holds the per-candidate inputs of every Measure for one episode,
// prepared once and shared by all rankers.
type judged struct {
	gains      []float64
	relevant   []bool
	novel      []bool
	popularity []float64
	recent     []float64
}

// judge prepares the inputs of an episode; the episode must have labels.
func judge(ep *prompt.Episode) *judged {
	j := &judged{
		gains:      ep.Labels.Gains,
		relevant:   ep.Labels.Relevant,
		novel:      Novelty(ep),
		popularity: make([]float64, len(ep.Candidates)),
		recent:     make([]float64, len(ep.Candidates)),
	}
	for i, c := range ep.Candidates {
		j.popularity[i] = c.Popularity
		j.recent[i] = c.RecentPopularity
	}
	return j
}

// score writes the value of every measure for one ranking into dst, which
// must have len(ms) entries. It does not allocate.
func (j *judged) score(ms []Measure, ranking []int, dst []float64) {
	for m := range ms {
		g, r := j.gains, j.relevant
		switch ms[m].Input {
		case InputNovelty:
			g, r = nil, j.novel
		case InputPopularity:
			g, r = j.popularity, nil
		case InputRecentPopularity:
			g, r = j.recent, nil
		}
		dst[m] = ms[m].Metric(g, r, ranking, ms[m].K)
	}
}
