package testbed

import (
	"fmt"
	"math"
	"slices"

	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rl"
)

// Data is what NewProblem turns into a Problem.
type Data struct {
	// Dataset names the data in reports, e.g. "ml-latest-small".
	Dataset string
	// Needs are the needs the policy serves; every episode's Need must be
	// one of their ids. Their gain rules fill unobserved gains.
	Needs []prompt.Need
	// Train are the labelled episodes the policy trains on. In the sparse
	// mode a training reward reads only the candidates marked by
	// Labels.Observed (nil: all).
	Train []prompt.Episode
	// HeldOut are the labelled episodes the policy is measured on, with
	// their dense-truth Labels.Gains and Labels.Relevant; their users should
	// not appear in Train.
	HeldOut []prompt.Episode
	// Affinity and Rating score a user–item pair for the affinity and
	// rating features; neither may be nil.
	Affinity, Rating Scorer
	// SparseAffinity and SparseRating are the same models trained on the
	// observed feedback only, for the sparse mode's features; nil means the
	// sparse mode uses Affinity and Rating.
	SparseAffinity, SparseRating Scorer
	// Sparsity describes the sparse mode's observation masks (zero when
	// there is no sparse mode).
	Sparsity Sparsity
	// Critics predict the engagement of unobserved candidates, by critic
	// kind (the estimators' Critic field). A kind left out cannot be
	// trained in the sparse mode.
	Critics map[string]rl.Predictor
}

// Sparsity counts what the sparse mode observes: candidates over every
// episode, and the history items the critic's training pairs are drawn from
// (training episodes and held-out users' histories).
type Sparsity struct {
	// CandidatesObserved and Candidates count observed and all candidates.
	CandidatesObserved int `json:"candidates_observed"`
	// Candidates counts all candidates.
	Candidates int `json:"candidates"`
	// HistoryObserved counts the history items whose feedback is observed.
	HistoryObserved int `json:"history_observed"`
	// History counts all history items.
	History int `json:"history"`
}

// HistoryShare returns HistoryObserved/History (0 for no history).
func (s Sparsity) HistoryShare() float64 {
	if s.History == 0 {
		return 0
	}
	return float64(s.HistoryObserved) / float64(s.History)
}

// CandidateShare returns CandidatesObserved/Candidates (0 for none).
func (s Sparsity) CandidateShare() float64 {
	if s.Candidates == 0 {
		return 0
	}
	return float64(s.CandidatesObserved) / float64(s.Candidates)
}

// Problem is a prepared testbed problem: the featurised training and
// held-out episodes with the gains every mode and estimator reads. It is
// immutable after NewProblem or Prepare and safe for concurrent use by
// Train.
type Problem struct {
	dataset  string
	needs    []string
	train    []*episode
	heldOut  []*episode
	dim      int
	sparsity Sparsity
}

// episode is one featurised episode.
type episode struct {
	id       string
	need     int       // index into Problem.needs
	n        int       // candidates
	x        []float64 // n×dim row-major features (dense mode)
	xs       []float64 // the sparse mode's features (x when they are the same)
	cats     [][]int   // per candidate, episode-local category ids
	ncat     int       // number of distinct categories among the candidates
	shown    []int     // evaluation prompt order: shown[j] = position of candidate j
	truth    []float64 // dense-truth gains
	relevant []bool
	observed []float64         // truth where observed, else 0
	filled   map[string]filled // critic kind → filled gains (train only)
}

// filled is an episode's gains with unobserved candidates predicted.
type filled struct {
	gains, variances []float64
}

// NewProblem featurises d's episodes and fills every training episode's
// unobserved gains with every critic of d.Critics (rl.Fill). Errors: no
// needs or no episodes, a nil scorer, an episode without labels or with a
// need not in d.Needs, non-finite features, or a failing Fill (each naming
// the episode). Cost: O(episodes · N · (Dim + critics)).
func NewProblem(d Data) (*Problem, error) {
	if len(d.Needs) == 0 || len(d.Train) == 0 || len(d.HeldOut) == 0 {
		return nil, fmt.Errorf("testbed: problem needs needs, training and held-out episodes (%d, %d, %d)", len(d.Needs), len(d.Train), len(d.HeldOut))
	}
	if d.Affinity == nil || d.Rating == nil {
		return nil, fmt.Errorf("testbed: problem: nil affinity or rating scorer")
	}
	p := &Problem{dataset: d.Dataset, dim: Dim(len(d.Needs)), sparsity: d.Sparsity}
	for _, n := range d.Needs {
		p.needs = append(p.needs, n.ID)
	}
	var err error
	if p.train, err = p.prepare(d, d.Train, true); err != nil {
		return nil, err
	}
	if p.heldOut, err = p.prepare(d, d.HeldOut, false); err != nil {
		return nil, err
	}
	return p, nil
}

// prepare featurises eps; train episodes also get their filled gains.
func (p *Problem) prepare(d Data, eps []prompt.Episode, train bool) ([]*episode, error) {
	out := make([]*episode, 0, len(eps))
	for k := range eps {
		ep := &eps[k]
		if err := ep.Validate(); err != nil {
			return nil, fmt.Errorf("testbed: %w", err)
		}
		need := slices.Index(p.needs, ep.Need)
		if need < 0 || ep.Labels == nil {
			return nil, fmt.Errorf("testbed: episode %q: need %q not among %v, or no labels", ep.ID, ep.Need, p.needs)
		}
		e := &episode{id: ep.ID, need: need, n: len(ep.Candidates),
			x:     featurize(ep, need, len(p.needs), d.Affinity, d.Rating),
			truth: ep.Labels.Gains, relevant: ep.Labels.Relevant}
		e.xs = e.x
		if d.SparseAffinity != nil && d.SparseRating != nil {
			e.xs = featurize(ep, need, len(p.needs), d.SparseAffinity, d.SparseRating)
		}
		bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
		if slices.ContainsFunc(e.x, bad) || slices.ContainsFunc(e.xs, bad) {
			return nil, fmt.Errorf("testbed: episode %q: a scorer gave a non-finite feature", ep.ID)
		}
		e.cats, e.ncat = localCategories(ep)
		e.shown = evalOrder(ep.ID, e.n)
		e.observed = make([]float64, e.n)
		for i, g := range e.truth {
			if ep.Labels.IsObserved(i) {
				e.observed[i] = g
			}
		}
		if train {
			if err := e.fill(ep, d.Needs[need].Gain, d.Critics); err != nil {
				return nil, err
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// fill predicts the unobserved gains of ep with every critic.
func (e *episode) fill(ep *prompt.Episode, rule prompt.GainRule, critics map[string]rl.Predictor) error {
	e.filled = map[string]filled{}
	for kind, c := range critics {
		g, v, err := rl.Fill(nil, nil, ep, rule, c)
		if err != nil {
			return fmt.Errorf("testbed: fill with the %s critic: %w", kind, err)
		}
		e.filled[kind] = filled{g, v}
	}
	return nil
}

// gains returns what a training reward of est reads in mode: the truth
// (dense), the observed gains with 0 elsewhere (sparse, no critic), or
// the critic-filled gains, with the variances when est scales by
// uncertainty. ok is false when est's critic is missing.
func (e *episode) gains(mode string, est Estimator) (g, v []float64, ok bool) {
	switch {
	case mode == ModeDense:
		return e.truth, nil, true
	case est.Critic == "":
		return e.observed, nil, true
	}
	f, ok := e.filled[est.Critic]
	if !ok {
		return nil, nil, false
	}
	if est.Uncertainty {
		return f.gains, f.variances, true
	}
	return f.gains, nil, true
}

// features returns the episode's features in mode.
func (e *episode) features(mode string) []float64 {
	if mode == ModeSparse {
		return e.xs
	}
	return e.x
}

// Sparsity returns the sparse mode's observation counts.
func (p *Problem) Sparsity() Sparsity { return p.sparsity }

// Needs returns the need ids, in column order.
func (p *Problem) Needs() []string { return slices.Clone(p.needs) }

// Dim returns the number of policy weights.
func (p *Problem) Dim() int { return p.dim }

// Counts returns, per need, the number of training and held-out episodes.
func (p *Problem) Counts() (train, heldOut []int) {
	train, heldOut = make([]int, len(p.needs)), make([]int, len(p.needs))
	for _, e := range p.train {
		train[e.need]++
	}
	for _, e := range p.heldOut {
		heldOut[e.need]++
	}
	return train, heldOut
}

// PolicyWeights returns the initial weights of tc's policy class: for the
// linear policy InitialWeights(tc.Init); for the autoregressive one tc.AR's
// weights on the shared affinity and the prefix features, 0 elsewhere.
func (p *Problem) PolicyWeights(tc TrainConfig) []float64 {
	if tc.Policy != PolicyAutoregressive {
		return p.InitialWeights(tc.Init)
	}
	w := make([]float64, p.dim+NumPrefix)
	w[FeatAffinity] = tc.AR.Affinity
	w[p.dim+PrefEarly], w[p.dim+PrefNext], w[p.dim+PrefCategory] = tc.AR.Early, tc.AR.Next, tc.AR.Category
	return w
}

// InitialWeights returns the initial policy: init on the shared affinity
// weight, 0 elsewhere.
func (p *Problem) InitialWeights(init float64) []float64 {
	w := make([]float64, p.dim)
	w[FeatAffinity] = init
	return w
}

// Evaluate ranks every held-out episode greedily under the linear
// policy's weights w with the dense mode's features (by descending logit,
// ties by index) and returns, per need and measure, the mean of the
// measure over the need's held-out episodes (0 for a need without any). w
// must have Dim() entries. See EvaluatePolicy for the other policies and
// modes.
func (p *Problem) Evaluate(w []float64, measures []Measure) [][]float64 {
	return p.EvaluatePolicy(PolicyLinear, ModeDense, w, measures)
}

// EvaluatePolicy is Evaluate for the policy class named policy
// (PolicyLinear or PolicyAutoregressive, whose weights have
// PolicyDim(policy) entries) with the features of mode. The autoregressive
// policy decodes greedily (the most likely item at each position) from one
// fixed prompt order per episode, a seeded shuffle of its candidates.
func (p *Problem) EvaluatePolicy(policy, mode string, w []float64, measures []Measure) [][]float64 {
	sums := make([][]float64, len(p.needs))
	for i := range sums {
		sums[i] = make([]float64, len(measures))
	}
	_, counts := p.Counts()
	pol := newPolicy(policy, p.dim)
	var perm []int
	for _, e := range p.heldOut {
		perm = pol.greedy(perm, e, e.features(mode), w, e.shown)
		for m, ms := range measures {
			sums[e.need][m] += ms.Metric(e.truth, e.relevant, perm, ms.K)
		}
	}
	for i := range sums {
		for m := range sums[i] {
			if counts[i] > 0 {
				sums[i][m] /= float64(counts[i])
			}
		}
	}
	return sums
}
