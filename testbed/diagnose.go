package testbed

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flexrec/flexrec/rl"
)

// Diagnostic measures, at the initial policy, how much true credit one
// estimator's advantages carry for one need: the question behind "does
// this estimator beat that one, and if not, is it a bug".
type Diagnostic struct {
	// Mode is the feedback mode.
	Mode string `json:"mode"`
	// Estimator is the estimator's name.
	Estimator string `json:"estimator"`
	// Need is the need id.
	Need string `json:"need"`
	// CreditCorr is the Pearson correlation, over every (rollout,
	// position) with at least two items left, between the advantage that
	// credits the position and its true credit under the dense gains,
	// g_{y_p} − mean_{j ∈ R_p, j ≠ y_p} g_j: how much better the chosen
	// item was than the average alternative still available. 1 is a
	// perfect local credit, 0 none, negative credit pointing the wrong way.
	CreditCorr float64 `json:"credit_corr"`
	// Ceiling is the mean over the need's training episodes of Diagnose's
	// ceiling measure for the ranking by the gains the estimator's rewards
	// read (ties by index), scored on the dense truth: what a policy that
	// fitted each episode's reward exactly would score. 1 for NDCG under
	// the dense truth, lower where gains are hidden or predicted; a policy
	// that shares weights across episodes can exceed it by averaging the
	// reward's errors out.
	Ceiling float64 `json:"ceiling"`
	// UncertaintyCorr (estimators with uncertainty scaling) is the
	// correlation, over rollouts, between the rollout uncertainty u_i and
	// the error of its list reward under the filled gains, |R_i − R_i^true|.
	UncertaintyCorr float64 `json:"uncertainty_corr,omitempty"`
	// ScaleDev (estimators with uncertainty scaling) is the mean |c_i − 1|:
	// how much the scaling moves the advantages.
	ScaleDev float64 `json:"scale_dev,omitempty"`
}

// Diagnose samples tc.Group rollouts from the initial policy (tc.Init) for
// every training episode of p, with the stream of seed, and returns one
// Diagnostic per (mode, estimator that runs in it, need), in that order;
// the ceiling is measured with ceiling. Errors are Train's (a missing
// critic, a group rl rejects).
func Diagnose(p *Problem, modes []string, ests []Estimator, seed int64, tc TrainConfig, ceiling Measure) ([]Diagnostic, error) {
	var out []Diagnostic
	w := p.InitialWeights(tc.Init)
	for _, mode := range modes {
		for _, est := range ests {
			if !est.RunsIn(mode) {
				continue
			}
			ds, err := diagnoseOne(p, mode, est, w, seed, tc, ceiling)
			if err != nil {
				return nil, err
			}
			out = append(out, ds...)
		}
	}
	return out, nil
}

// corrAcc accumulates the sums of a Pearson correlation.
type corrAcc struct{ n, sx, sy, sxx, syy, sxy float64 }

func (c *corrAcc) add(x, y float64) {
	c.n++
	c.sx, c.sy = c.sx+x, c.sy+y
	c.sxx, c.syy, c.sxy = c.sxx+x*x, c.syy+y*y, c.sxy+x*y
}

// corr returns the correlation, 0 when either side is constant.
func (c *corrAcc) corr() float64 {
	vx, vy := c.sxx-c.sx*c.sx/c.n, c.syy-c.sy*c.sy/c.n
	if !(vx > 1e-300 && vy > 1e-300) {
		return 0
	}
	return (c.sxy - c.sx*c.sy/c.n) / math.Sqrt(vx*vy)
}

// diagnoseOne computes the diagnostics of one estimator in one mode.
func diagnoseOne(p *Problem, mode string, est Estimator, w []float64, seed int64, tc TrainConfig, ceiling Measure) ([]Diagnostic, error) {
	group, err := rl.NewGroup(est.rlConfig(tc.RL, tc.Cutoff))
	if err != nil {
		return nil, fmt.Errorf("testbed: estimator %q: %w", est.Name, err)
	}
	var truth rl.Scorer
	rng := rand.New(rand.NewPCG(uint64(seed), 0x64696167)) // "diag"
	credit, unc := make([]corrAcc, len(p.needs)), make([]corrAcc, len(p.needs))
	dev, rolls := make([]float64, len(p.needs)), make([]float64, len(p.needs))
	best, eps := make([]float64, len(p.needs)), make([]float64, len(p.needs))
	rs := make([]rl.Rollout, tc.Group)
	var s, keys []float64
	var order []int
	for _, e := range p.train {
		gains, vars, ok := e.gains(mode, est)
		if !ok {
			return nil, fmt.Errorf("testbed: estimator %q needs a %s critic the problem lacks", est.Name, est.Critic)
		}
		order = GreedyInto(order, gains)
		best[e.need] += ceiling.Metric(e.truth, e.relevant, order, ceiling.K)
		eps[e.need]++
		s = LogitsInto(s, w, e.features(mode))
		for i := range rs {
			rs[i].Permutation, keys = SampleInto(rs[i].Permutation, keys, s, rng)
		}
		if err := group.Compute(gains, vars, rs); err != nil {
			return nil, fmt.Errorf("testbed: episode %q: %w", e.id, err)
		}
		if err := truth.Reset(e.truth, tc.Cutoff); err != nil {
			return nil, fmt.Errorf("testbed: episode %q: %w", e.id, err)
		}
		for i, r := range rs {
			addCredit(&credit[e.need], group.ItemAdvantages(i), r.Permutation, e.truth)
			tr, _ := truth.ListReward(r.Permutation) // sampled: a valid permutation
			unc[e.need].add(group.Uncertainties()[i], math.Abs(group.Rewards()[i]-tr))
			dev[e.need] += math.Abs(group.Scales()[i] - 1)
			rolls[e.need]++
		}
	}
	out := make([]Diagnostic, len(p.needs))
	for n := range out {
		out[n] = Diagnostic{Mode: mode, Estimator: est.Name, Need: p.needs[n], CreditCorr: credit[n].corr()}
		if eps[n] > 0 {
			out[n].Ceiling = best[n] / eps[n]
		}
		if est.Uncertainty && rolls[n] > 0 {
			out[n].UncertaintyCorr, out[n].ScaleDev = unc[n].corr(), dev[n]/rolls[n]
		}
	}
	return out, nil
}

// addCredit adds every position's (advantage, true credit) pair of one
// rollout, walking back so that the suffix sum of gains gives the mean of
// the alternatives left at each position.
func addCredit(acc *corrAcc, adv []float64, perm []int, gains []float64) {
	var suffix float64
	for p := len(perm) - 1; p >= 0; p-- {
		g := gains[perm[p]]
		suffix += g
		if left := len(perm) - p; left >= 2 {
			acc.add(adv[p], g-(suffix-g)/float64(left-1))
		}
	}
}
