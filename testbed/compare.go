package testbed

import (
	"math"
	"slices"
)

// Diff is a paired difference over seeds: for each seed the estimator's
// final score minus the baseline's in the same cell, with the same
// batches and first rollouts.
type Diff struct {
	// Mean is the mean paired difference.
	Mean float64 `json:"mean"`
	// SE is its standard error, the sample std of the differences over
	// √N (0 for one seed).
	SE float64 `json:"se"`
	// Positive counts the seeds where the difference is above 0.
	Positive int `json:"positive"`
	// N is the number of paired seeds.
	N int `json:"n"`
}

// Comparison is one estimator's result in one panel, mode, need and
// measure, with its paired differences against GRPO and the independent
// contribution.
type Comparison struct {
	Panel
	// Mode is the feedback mode.
	Mode string `json:"mode"`
	// Need is the need id.
	Need string `json:"need"`
	// Measure is the measure's name.
	Measure string `json:"measure"`
	// Estimator is the estimator's name.
	Estimator string `json:"estimator"`
	// Mean and Std are the final score's mean and sample std over seeds.
	Mean float64 `json:"mean"`
	// Std is the sample standard deviation over seeds.
	Std float64 `json:"std"`
	// Seeds is the number of seeds.
	Seeds int `json:"seeds"`
	// VsGRPO is the paired difference against EstGRPO in the same panel and
	// mode; nil when GRPO did not run or this is GRPO.
	VsGRPO *Diff `json:"vs_grpo"`
	// VsIndependent is the paired difference against EstIndependent in
	// the same panel and mode; nil when it did not run or this is it.
	VsIndependent *Diff `json:"vs_independent"`
}

// Comparisons returns one Comparison per panel, mode, need, measure and
// estimator that ran there, in that order.
func (r *Result) Comparisons() []Comparison {
	var out []Comparison
	for _, pn := range r.Panels() {
		for _, mode := range r.Modes {
			for n, need := range r.Needs {
				for m, measure := range r.Measures {
					base := func(est string) map[int64]float64 { return r.finals(pn, est, mode, n, m) }
					grpo, ind := base(EstGRPO), base(EstIndependent)
					for _, est := range r.Estimators {
						xs := base(est.Name)
						if len(xs) == 0 {
							continue
						}
						c := Comparison{Panel: pn, Mode: mode, Need: need, Measure: measure, Estimator: est.Name, Seeds: len(xs)}
						c.Mean, c.Std = MeanStd(values(xs))
						if est.Name != EstGRPO {
							c.VsGRPO = paired(xs, grpo)
						}
						if est.Name != EstIndependent {
							c.VsIndependent = paired(xs, ind)
						}
						out = append(out, c)
					}
				}
			}
		}
	}
	return out
}

// finals returns the final score of est per seed in panel pn and mode.
func (r *Result) finals(pn Panel, est, mode string, n, m int) map[int64]float64 {
	out := map[int64]float64{}
	for _, run := range r.runsOf(pn, est, mode) {
		out[run.Seed] = run.Final().Scores[n][m]
	}
	return out
}

// values returns the values of xs in seed order.
func values(xs map[int64]float64) []float64 {
	seeds := make([]int64, 0, len(xs))
	for s := range xs {
		seeds = append(seeds, s)
	}
	slices.Sort(seeds)
	out := make([]float64, len(seeds))
	for k, s := range seeds {
		out[k] = xs[s]
	}
	return out
}

// paired returns the paired difference of xs against base over their
// common seeds, nil when there are none.
func paired(xs, base map[int64]float64) *Diff {
	d := map[int64]float64{}
	for s, x := range xs {
		if b, ok := base[s]; ok {
			d[s] = x - b
		}
	}
	if len(d) == 0 {
		return nil
	}
	vs := values(d)
	mean, std := MeanStd(vs)
	out := &Diff{Mean: mean, SE: std / math.Sqrt(float64(len(vs))), N: len(vs)}
	for _, v := range vs {
		if v > 0 {
			out.Positive++
		}
	}
	return out
}
