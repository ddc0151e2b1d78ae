package testbed

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/mf"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rl"
	"github.com/flexrec/flexrec/rl/critic"
)

// Feedback modes: what the training rewards may read.
const (
	// ModeDense trains on every candidate's true gain.
	ModeDense = "dense"
	// ModeSparse trains on the observed candidates' gains only (a seeded
	// Sparse share of each episode's candidates); an estimator with a
	// critic fills the others in (rl.Fill), one without counts them as 0.
	ModeSparse = "sparse"
)

// Metric scores one ranking of one candidate set, with the signature of
// eval.Metric so that eval.NDCG and eval.Recall plug in: gains[i] and
// relevant[i] describe candidate i, ranking lists candidate indices best
// first, k is the cutoff. It must not retain its arguments and must be safe
// for concurrent use.
type Metric func(gains []float64, relevant []bool, ranking []int, k int) float64

// Measure is a named metric at a cutoff, e.g. {"ndcg@5", eval.NDCG, 5}.
type Measure struct {
	// Name labels the measure in tables, curves and JSON.
	Name string
	// Metric computes it; nil is invalid.
	Metric Metric
	// K is the cutoff passed to Metric.
	K int
}

// TrainConfig holds the settings of one training run. Train uses it as
// given: build it with DefaultTrainConfig.
type TrainConfig struct {
	// Iters is the number of policy updates, >= 1. Default 100.
	Iters int `json:"iters"`
	// Batch is the number of training episodes per update, >= 1, drawn
	// without replacement from a seeded shuffle (reshuffled each pass).
	// Default 16.
	Batch int `json:"batch"`
	// Group is the number G of rollouts sampled per episode, >= 2.
	// Default 8 (method.md §5). A run samples Iters·Batch·Group rollouts.
	Group int `json:"group"`
	// Epochs is the number of gradient steps on each batch of rollouts,
	// >= 1. Default 2; from the second on the clip is active.
	Epochs int `json:"epochs"`
	// LR is Adam's step size, > 0. Default 0.05 (features are standardised
	// per episode, so weights are of order 1).
	LR float64 `json:"lr"`
	// Clip is the ε of the clipped ratio, in (0, 1). Default 0.2.
	Clip float64 `json:"clip"`
	// KL is the coefficient β of the exact per-position KL divergence to
	// the initial policy, >= 0; 0 disables it. Default 0.01 (the paper's).
	KL float64 `json:"kl"`
	// EvalEvery is the number of updates between two points of the
	// learning curve, >= 1. Default 5.
	EvalEvery int `json:"eval_every"`
	// Init is the initial policy's weight on the shared affinity feature
	// (every other weight starts at 0): a need-blind recommender, as a base
	// model is. 0 gives the uniform policy. Default 1.
	Init float64 `json:"init"`
	// Cutoff is the NDCG cutoff of the training rewards; 0 (the default,
	// method.md §3) means the whole list.
	Cutoff int `json:"cutoff"`
	// Entropy is the coefficient α of the exact per-position entropy bonus,
	// >= 0; 0 disables it. Default 0.005 (the paper's).
	Entropy float64 `json:"entropy"`
	// Policy is the policy class, PolicyLinear (default, also for "") or
	// PolicyAutoregressive.
	Policy string `json:"policy"`
	// AR is the autoregressive policy's initial weights. Default
	// DefaultARInit().
	AR ARInit `json:"ar_init"`
	// RL is the base of every estimator's rl.Config: each estimator sets
	// its level, item reward, uncertainty and normalisation on top, and
	// Cutoff replaces its cutoff. Default rl.DefaultConfig().
	RL rl.Config `json:"rl"`
}

// DefaultTrainConfig returns the defaults documented on TrainConfig.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Iters: 100, Batch: 16, Group: 8, Epochs: 2, LR: 0.05, Clip: 0.2,
		KL: 0.01, EvalEvery: 5, Init: 1, Entropy: 0.005, AR: DefaultARInit(), RL: rl.DefaultConfig()}
}

// Validate reports the first invalid field of c, naming it.
func (c TrainConfig) Validate() error {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case c.Iters < 1:
		return fmt.Errorf("testbed: config iters %d, want >= 1", c.Iters)
	case c.Batch < 1:
		return fmt.Errorf("testbed: config batch %d, want >= 1", c.Batch)
	case c.Group < 2:
		return fmt.Errorf("testbed: config group %d, want >= 2", c.Group)
	case c.Epochs < 1:
		return fmt.Errorf("testbed: config epochs %d, want >= 1", c.Epochs)
	case !(c.LR > 0) || !finite(c.LR):
		return fmt.Errorf("testbed: config lr %v, want finite > 0", c.LR)
	case !(c.Clip > 0 && c.Clip < 1):
		return fmt.Errorf("testbed: config clip %v, want in (0, 1)", c.Clip)
	case !(c.KL >= 0) || !finite(c.KL):
		return fmt.Errorf("testbed: config kl %v, want finite >= 0", c.KL)
	case c.EvalEvery < 1:
		return fmt.Errorf("testbed: config eval_every %d, want >= 1", c.EvalEvery)
	case !finite(c.Init):
		return fmt.Errorf("testbed: config init %v, want finite", c.Init)
	case c.Cutoff < 0:
		return fmt.Errorf("testbed: config cutoff %d, want >= 0", c.Cutoff)
	case !(c.Entropy >= 0) || !finite(c.Entropy):
		return fmt.Errorf("testbed: config entropy %v, want finite >= 0", c.Entropy)
	case c.Policy != "" && !slices.Contains(Policies, c.Policy):
		return fmt.Errorf("testbed: config policy %q, want linear or autoregressive", c.Policy)
	case !finite(c.AR.Affinity) || !finite(c.AR.Early) || !finite(c.AR.Next) || !finite(c.AR.Category):
		return fmt.Errorf("testbed: config ar_init %+v, want finite weights", c.AR)
	}
	if err := c.RL.Validate(); err != nil {
		return fmt.Errorf("testbed: config rl: %w", err)
	}
	return nil
}

// Config holds a whole experiment: the data, the feature models, the
// critics, the estimators, the seeds and the training settings. Build it
// with DefaultConfig (or QuickConfig), then add Measures; Run uses it as
// given.
type Config struct {
	// Needs are the needs trained jointly (one policy, with need
	// interactions) and reported, in column order. Default interest and
	// explore, the latter with ExploreNeed's looser rule.
	Needs []prompt.Need `json:"needs"`
	// Modes are ModeDense and/or ModeSparse. Default both.
	Modes []string `json:"modes"`
	// Estimators are the advantage estimators, in row order. Default
	// DefaultEstimators(). One that needs a critic runs in the sparse mode
	// only.
	Estimators []Estimator `json:"estimators"`
	// Seeds seed the runs: each cell and estimator trains once per seed,
	// and every estimator sees the same episode batches and starts from the
	// same rollouts for a given seed, so differences are paired by seed.
	// Default 1..10.
	Seeds []int64 `json:"seeds"`
	// Policies are the policy classes, each a block of the table. Default
	// PolicyLinear and PolicyAutoregressive.
	Policies []string `json:"policies"`
	// Normalizations are the item reward normalisations (rl.PerPosition,
	// rl.Pooled) every item-level estimator without its own runs under;
	// sequence-level estimators run once and serve every normalisation.
	// Default both, rl's default (pooled) first.
	Normalizations []string `json:"normalizations"`
	// Cutoffs are the training rewards' NDCG cutoffs (0: the whole list);
	// each replaces Train.Cutoff in turn. Default 0 and 5.
	Cutoffs []int `json:"cutoffs"`
	// Measures are what the table and the curves report on the held-out
	// episodes, at least one; the first is the one the HTML report charts.
	// DefaultConfig leaves it empty: this package does not import eval, so
	// the caller passes eval.NDCG and eval.Recall (see doc.go).
	Measures []Measure `json:"-"`
	// Build is the episode builder's configuration; its Need and Sparse are
	// set per need and mode, and its Seed fixes the episodes, the observed
	// masks and the user split. Default dataset.DefaultBuildConfig().
	Build dataset.BuildConfig `json:"build"`
	// Sparse is the observed share of each episode's candidates in the
	// sparse mode, in (0, 1]. Default dataset.DefaultSparse (0.1).
	Sparse float64 `json:"sparse"`
	// HeldOut is the share of users whose episodes are held out for
	// evaluation, in (0, 1). Default 0.3.
	HeldOut float64 `json:"held_out"`
	// Affinity configures the implicit-feedback MF behind the affinity
	// feature. Default mf.DefaultBPRConfig().
	Affinity mf.Config `json:"affinity"`
	// Rating configures the rating-prediction MF behind the rating
	// feature. Default mf.DefaultConfig() (ALS).
	Rating mf.Config `json:"rating"`
	// Critic configures the critics that fill unobserved gains; its Kind
	// is replaced by each estimator's. Default critic.DefaultConfig().
	Critic critic.Config `json:"critic"`
	// Hurdle wraps each critic in critic.TrainHurdle's model of whether
	// the user met the item at all, since an unseen candidate's gain is 0.
	// Default true.
	Hurdle bool `json:"hurdle"`
	// Train configures every run.
	Train TrainConfig `json:"train"`
	// Workers is the number of runs trained at once, >= 1. Results do not
	// depend on it. Default runtime.GOMAXPROCS(0).
	Workers int `json:"workers"`
}

// ExploreNeed returns the built-in explore need with MaxOverlap 1: an item
// counts as novel when at most one of its genres appears among the user's
// last 50 history items. On ml-latest-small the strict rule (no genre at
// all) leaves 26 episodes; this one leaves 321.
func ExploreNeed() prompt.Need {
	n, _ := prompt.LookupNeed("explore") // built in: cannot fail
	n.Gain.MaxOverlap = 1
	n.Name = "Explore New Topics (at most one familiar genre)"
	return n
}

// DefaultConfig returns the defaults documented on Config and
// TrainConfig: the full table, interest and explore, dense and sparse, six
// estimators, three seeds.
func DefaultConfig() Config {
	interest, _ := prompt.LookupNeed("interest") // built in: cannot fail
	return Config{
		Needs:          []prompt.Need{interest, ExploreNeed()},
		Modes:          []string{ModeDense, ModeSparse},
		Estimators:     DefaultEstimators(),
		Seeds:          []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		Policies:       slices.Clone(Policies),
		Normalizations: slices.Clone(rl.Normalizations),
		Cutoffs:        []int{0, 5},
		Build:          dataset.DefaultBuildConfig(),
		Sparse:         dataset.DefaultSparse,
		HeldOut:        0.3,
		Affinity:       mf.DefaultBPRConfig(),
		Rating:         mf.DefaultConfig(),
		Critic:         critic.DefaultConfig(),
		Hurdle:         true,
		Train:          DefaultTrainConfig(),
		Workers:        runtime.GOMAXPROCS(0),
	}
}

// QuickConfig returns a configuration for tests and smoke runs: at most
// 150 episodes per need, 20 updates of 8 episodes, a four-model critic
// ensemble, two seeds, the whole-list cutoff and the default
// normalisation only; both policies as in DefaultConfig. It finishes in
// seconds.
func QuickConfig() Config {
	c := DefaultConfig()
	c.Build.Limit = 150
	c.Critic.Models = 4
	c.Train.Iters, c.Train.Batch = 20, 8
	c.Seeds = []int64{1, 2}
	c.Cutoffs = []int{0}
	c.Normalizations = []string{c.Train.RL.Normalize}
	return c
}

// Validate reports the first invalid field of c, naming it.
func (c Config) Validate() error {
	if err := c.Train.Validate(); err != nil {
		return err
	}
	if err := c.validateLists(); err != nil {
		return err
	}
	switch {
	case !(c.Sparse > 0 && c.Sparse <= 1):
		return fmt.Errorf("testbed: config sparse %v, want in (0, 1]", c.Sparse)
	case !(c.HeldOut > 0 && c.HeldOut < 1):
		return fmt.Errorf("testbed: config held_out %v, want in (0, 1)", c.HeldOut)
	case c.Workers < 1:
		return fmt.Errorf("testbed: config workers %d, want >= 1", c.Workers)
	}
	b := c.Build
	b.Need = c.Needs[0]
	if err := b.Validate(); err != nil {
		return fmt.Errorf("testbed: config build: %w", err)
	}
	for name, m := range map[string]mf.Config{"affinity": c.Affinity, "rating": c.Rating} {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("testbed: config %s: %w", name, err)
		}
	}
	if err := c.Critic.Validate(); err != nil {
		return fmt.Errorf("testbed: config critic: %w", err)
	}
	return nil
}

// validateLists checks the needs, modes, estimators, seeds, policies,
// normalisations, cutoffs and measures.
func (c Config) validateLists() error {
	if len(c.Needs) == 0 || len(c.Modes) == 0 || len(c.Estimators) == 0 || len(c.Seeds) == 0 ||
		len(c.Policies) == 0 || len(c.Normalizations) == 0 || len(c.Cutoffs) == 0 {
		return fmt.Errorf("testbed: config needs, modes, estimators, seeds, policies, normalizations and cutoffs: want at least one each")
	}
	for _, p := range c.Policies {
		if !slices.Contains(Policies, p) {
			return fmt.Errorf("testbed: config policies: %q, want linear or autoregressive", p)
		}
	}
	for _, n := range c.Normalizations {
		if _, err := rl.ParseNormalize(n); err != nil || n == "" {
			return fmt.Errorf("testbed: config normalizations: %q, want position or pooled", n)
		}
	}
	for _, k := range c.Cutoffs {
		if k < 0 {
			return fmt.Errorf("testbed: config cutoffs: %d, want >= 0", k)
		}
	}
	if len(c.Measures) == 0 {
		return fmt.Errorf("testbed: config measures: none (pass eval.NDCG and eval.Recall)")
	}
	for i, n := range c.Needs {
		if err := n.Validate(); err != nil {
			return fmt.Errorf("testbed: config needs[%d]: %w", i, err)
		}
		if slices.IndexFunc(c.Needs[:i], func(m prompt.Need) bool { return m.ID == n.ID }) >= 0 {
			return fmt.Errorf("testbed: config needs: %q twice", n.ID)
		}
		if n.Gain.Rule == prompt.RuleQueryRelevance {
			return fmt.Errorf("testbed: config needs: %q has no user history to rank from (query relevance)", n.ID)
		}
	}
	for _, m := range c.Modes {
		if m != ModeDense && m != ModeSparse {
			return fmt.Errorf("testbed: config modes: %q, want dense or sparse", m)
		}
	}
	for _, e := range c.Estimators {
		if err := e.Validate(); err != nil {
			return err
		}
	}
	for _, m := range c.Measures {
		if m.Metric == nil || strings.TrimSpace(m.Name) == "" {
			return fmt.Errorf("testbed: config measures: %q needs a name and a metric", m.Name)
		}
	}
	return nil
}
