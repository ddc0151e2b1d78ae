package testbed

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rl"
)

// Result is a whole experiment: every run and the initial policy.
type Result struct {
	// Dataset names the data the problem was built from.
	Dataset string `json:"dataset"`
	// Needs names the needs (column groups), in order.
	Needs []string `json:"needs"`
	// Modes names the feedback modes, in order.
	Modes []string `json:"modes"`
	// Measures names the measures, in order.
	Measures []string `json:"measures"`
	// NeedInfo describes each need of Needs: its gain rule and episodes.
	NeedInfo []NeedInfo `json:"need_info"`
	// HistoryLen is the history length H of the episodes.
	HistoryLen int `json:"history_len"`
	// Candidates is the candidate set size N the builder aimed at.
	Candidates int `json:"candidates"`
	// Sparse is the sparse mode's observed share of candidates.
	Sparse float64 `json:"sparse"`
	// HeldOut is the share of users held out.
	HeldOut float64 `json:"held_out"`
	// Estimators are the rows, in order.
	Estimators []Estimator `json:"estimators"`
	// Seeds are the seeds every (mode, estimator) ran with.
	Seeds []int64 `json:"seeds"`
	// Policies, Normalizations and Cutoffs are the cell axes, in order.
	Policies []string `json:"policies"`
	// Normalizations are the item reward normalisations, in order.
	Normalizations []string `json:"normalizations"`
	// Cutoffs are the training cutoffs, in order (0: the whole list).
	Cutoffs []int `json:"cutoffs"`
	// Initials holds the initial policy's held-out scores per policy class
	// and mode (the sparse mode's features differ).
	Initials []Initial `json:"initials"`
	// Sparsity is what the sparse mode observed.
	Sparsity Sparsity `json:"sparsity"`
	// Train is the training configuration of every run.
	Train TrainConfig `json:"train"`
	// Initial holds, per need and measure, the initial linear policy's
	// held-out scores with the dense mode's features (see Initials).
	Initial [][]float64 `json:"initial"`
	// Runs are the runs, by mode, then estimator, then seed.
	Runs []*RunResult `json:"runs"`
	// Diagnostics are Diagnose's, for the first seed and the first measure.
	Diagnostics []Diagnostic `json:"diagnostics"`
	// Seconds is the wall time of Run.
	Seconds float64 `json:"seconds"`
}

// NeedInfo describes one need of a Result.
type NeedInfo struct {
	// ID is the need id.
	ID string `json:"id"`
	// Gain is its gain rule.
	Gain prompt.GainRule `json:"gain"`
	// TrainEpisodes counts its training episodes.
	TrainEpisodes int `json:"train_episodes"`
	// HeldOutEpisodes counts its held-out episodes.
	HeldOutEpisodes int `json:"held_out_episodes"`
}

// Initial is the initial policy's held-out scores for one policy class and
// mode.
type Initial struct {
	// Policy is the policy class.
	Policy string `json:"policy"`
	// Mode is the feedback mode.
	Mode string `json:"mode"`
	// Scores holds, per need and measure, the held-out scores.
	Scores [][]float64 `json:"scores"`
}

// InitialFor returns the initial scores of policy in mode (nil if absent).
func (r *Result) InitialFor(policy, mode string) [][]float64 {
	for _, in := range r.Initials {
		if in.Policy == policy && in.Mode == mode {
			return in.Scores
		}
	}
	return nil
}

// RolloutsPerRun returns the rollouts each run samples: Iters·Batch·Group.
func (r *Result) RolloutsPerRun() int { return r.Train.Iters * r.Train.Batch * r.Train.Group }

// Run trains every (mode, estimator, seed) of cfg on p, cfg.Workers runs
// at a time under ctx (the first error cancels the rest and is returned),
// and collects the results in a fixed order, so the Result does not
// depend on cfg.Workers. An estimator runs only in the modes it supports
// (Estimator.RunsIn). log receives a line per finished run; nil discards.
func Run(ctx context.Context, p *Problem, cfg Config, log *slog.Logger) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	res := newResult(p, cfg)
	var err error
	dtc, dests := cfg.Train, slices.Clone(cfg.Estimators)
	dtc.Cutoff = cfg.Cutoffs[0]
	for k := range dests {
		if dests[k].Normalize == "" {
			dests[k].Normalize = cfg.Normalizations[0]
		}
	}
	if res.Diagnostics, err = Diagnose(p, cfg.Modes, dests, cfg.Seeds[0], dtc, cfg.Measures[0]); err != nil {
		return nil, err
	}
	jobs := runJobs(cfg)
	res.Runs = make([]*RunResult, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Workers)
	for k, j := range jobs {
		g.Go(func() error {
			r, err := Train(gctx, p, j.mode, j.est, j.seed, j.tc, cfg.Measures)
			if err != nil {
				return err
			}
			res.Runs[k] = r
			log.Info("run done", "policy", r.Policy, "cutoff", r.Cutoff, "normalize", r.Normalize, "mode", j.mode,
				"estimator", j.est.Name, "seed", j.seed, "scores", r.Final().Scores)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// job is one training run of Run.
type job struct {
	mode string
	est  Estimator
	seed int64
	tc   TrainConfig
}

// runJobs lists the runs of cfg by policy, cutoff, normalisation, mode,
// estimator and seed. An estimator that has no normalisation of the axis
// (sequence level, or its own Normalize) runs under the first only.
func runJobs(cfg Config) []job {
	var jobs []job
	for _, pol := range cfg.Policies {
		for _, cut := range cfg.Cutoffs {
			for ni, norm := range cfg.Normalizations {
				tc := cfg.Train
				tc.Policy, tc.Cutoff = pol, cut
				for _, mode := range cfg.Modes {
					for _, est := range cfg.Estimators {
						fixed := est.Level == rl.LevelSequence || est.Normalize != ""
						if !est.RunsIn(mode) || (fixed && ni > 0) {
							continue
						}
						if !fixed {
							est.Normalize = norm
						}
						for _, seed := range cfg.Seeds {
							jobs = append(jobs, job{mode, est, seed, tc})
						}
					}
				}
			}
		}
	}
	return jobs
}

// newResult fills a Result's description of p and cfg and the initial
// policy's scores.
func newResult(p *Problem, cfg Config) *Result {
	res := &Result{Dataset: p.dataset, Needs: p.Needs(), Modes: cfg.Modes, Estimators: cfg.Estimators,
		Seeds: cfg.Seeds, Train: cfg.Train, HistoryLen: cfg.Build.HistoryLen, Candidates: cfg.Build.NumCandidates,
		Sparse: cfg.Sparse, HeldOut: cfg.HeldOut, Initial: p.Evaluate(p.InitialWeights(cfg.Train.Init), cfg.Measures),
		Policies: cfg.Policies, Normalizations: cfg.Normalizations, Cutoffs: cfg.Cutoffs, Sparsity: p.Sparsity()}
	for _, pol := range cfg.Policies {
		tc := cfg.Train
		tc.Policy = pol
		for _, mode := range cfg.Modes {
			res.Initials = append(res.Initials, Initial{Policy: pol, Mode: mode,
				Scores: p.EvaluatePolicy(pol, mode, p.PolicyWeights(tc), cfg.Measures)})
		}
	}
	train, held := p.Counts()
	for i, id := range res.Needs {
		info := NeedInfo{ID: id, TrainEpisodes: train[i], HeldOutEpisodes: held[i]}
		if k := slices.IndexFunc(cfg.Needs, func(n prompt.Need) bool { return n.ID == id }); k >= 0 {
			info.Gain = cfg.Needs[k].Gain
		}
		res.NeedInfo = append(res.NeedInfo, info)
	}
	for _, m := range cfg.Measures {
		res.Measures = append(res.Measures, m.Name)
	}
	return res
}

// Cell is a mean and sample standard deviation over seeds.
type Cell struct {
	// Mean is the mean over the seeds.
	Mean float64 `json:"mean"`
	// Std is the sample standard deviation over the seeds (0 for one).
	Std float64 `json:"std"`
	// Seeds is the number of seeds.
	Seeds int `json:"seeds"`
}

// Column names one column of the table.
type Column struct {
	// Need is the need id.
	Need string `json:"need"`
	// Mode is ModeDense or ModeSparse.
	Mode string `json:"mode"`
	// Measure is the measure's name, e.g. "ndcg@5".
	Measure string `json:"measure"`
}

// Row is one row of the table: the initial policy or an estimator.
type Row struct {
	// Name is "initial" or the estimator's name.
	Name string `json:"name"`
	// Cells are index-aligned with Table.Columns; nil where the estimator
	// does not run in the column's mode.
	Cells []*Cell `json:"cells"`
}

// Table is the paper-style summary of a Result: the final held-out
// scores, mean and spread over seeds, per estimator and (need, mode,
// measure).
type Table struct {
	// Columns are ordered by need, then mode, then measure.
	Columns []Column `json:"columns"`
	// Rows are the initial policy, then the estimators in order.
	Rows []Row `json:"rows"`
}

// Panel names one block of tables: a policy class, a training cutoff and
// an item reward normalisation.
type Panel struct {
	// Policy is the policy class.
	Policy string `json:"policy"`
	// Cutoff is the training cutoff (0: the whole list).
	Cutoff int `json:"cutoff"`
	// Normalize is the item reward normalisation.
	Normalize string `json:"normalize"`
}

// Panels lists r's panels: policies, then cutoffs, then normalisations.
func (r *Result) Panels() []Panel {
	var out []Panel
	for _, pol := range r.Policies {
		for _, cut := range r.Cutoffs {
			for _, norm := range r.Normalizations {
				out = append(out, Panel{pol, cut, norm})
			}
		}
	}
	if len(out) == 0 { // a Result from before the axes: one panel
		out = append(out, Panel{PolicyLinear, r.Train.Cutoff, ""})
	}
	return out
}

// runsOf returns the runs of est in panel pn and mode, by seed order. A
// run without a normalisation (sequence level) serves every panel.
func (r *Result) runsOf(pn Panel, est, mode string) []*RunResult {
	var out []*RunResult
	for _, run := range r.Runs {
		if run.Estimator == est && run.Mode == mode && (run.Policy == pn.Policy || run.Policy == "") &&
			run.Cutoff == pn.Cutoff && (run.Normalize == "" || pn.Normalize == "" || run.Normalize == pn.Normalize) {
			out = append(out, run)
		}
	}
	return out
}

// RunsOf returns the runs of estimator est in panel pn and mode, in seed
// order (a sequence-level estimator's runs serve every normalisation).
func (r *Result) RunsOf(pn Panel, est, mode string) []*RunResult { return r.runsOf(pn, est, mode) }

// Table summarises the first panel of r; see TableFor.
func (r *Result) Table() Table { return r.TableFor(r.Panels()[0]) }

// TableFor summarises panel pn of r: columns by need, then mode, then
// measure; a first row for the initial policy (its cells have Seeds 0 and
// Std 0), then one row per estimator.
func (r *Result) TableFor(pn Panel) Table {
	var t Table
	for _, need := range r.Needs {
		for _, mode := range r.Modes {
			for _, m := range r.Measures {
				t.Columns = append(t.Columns, Column{need, mode, m})
			}
		}
	}
	init := Row{Name: "initial"}
	for _, c := range t.Columns {
		n, m := slices.Index(r.Needs, c.Need), slices.Index(r.Measures, c.Measure)
		scores := r.InitialFor(pn.Policy, c.Mode)
		if scores == nil {
			scores = r.Initial
		}
		init.Cells = append(init.Cells, &Cell{Mean: scores[n][m]})
	}
	t.Rows = append(t.Rows, init)
	for _, est := range r.Estimators {
		row := Row{Name: est.Name}
		for _, c := range t.Columns {
			row.Cells = append(row.Cells, r.cell(pn, est.Name, c))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// cell aggregates the final scores of the runs of est in column c.
func (r *Result) cell(pn Panel, est string, c Column) *Cell {
	n, m := slices.Index(r.Needs, c.Need), slices.Index(r.Measures, c.Measure)
	var xs []float64
	for _, run := range r.runsOf(pn, est, c.Mode) {
		xs = append(xs, run.Final().Scores[n][m])
	}
	if len(xs) == 0 {
		return nil
	}
	mean, std := MeanStd(xs)
	return &Cell{Mean: mean, Std: std, Seeds: len(xs)}
}

// MeanStd returns the mean and the sample standard deviation of xs (std 0
// for fewer than two values; NaN mean for none).
func MeanStd(xs []float64) (float64, float64) {
	var sum, ss float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	if len(xs) < 2 {
		return mean, 0
	}
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)-1))
}
