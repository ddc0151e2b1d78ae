package testbed

import (
	"fmt"
	"strings"

	"github.com/flexrec/flexrec/rl"
	"github.com/flexrec/flexrec/rl/critic"
)

// Estimator is one way of turning a group of rollouts into advantages: an
// rl.Config choice (level and item reward), plus which gains the rewards
// read in the sparse mode. Advantages at the item level credit only the
// log-probability of the position they belong to; at the sequence level
// every position of a rollout gets the rollout's advantage.
type Estimator struct {
	// Name labels the estimator in tables, curves and flags.
	Name string `json:"name"`
	// Level is rl.LevelItem or rl.LevelSequence.
	Level string `json:"level"`
	// ItemReward is the item reward rule under rl.LevelItem.
	ItemReward rl.ItemReward `json:"item_reward,omitempty"`
	// Critic is the critic kind that fills unobserved gains in the sparse
	// mode (critic.KindEnsemble, KindUserKNN, KindItemKNN); "" means
	// unobserved gains count as 0. An estimator with a critic does not run
	// in the dense mode, where nothing is unobserved.
	Critic string `json:"critic,omitempty"`
	// Uncertainty scales each rollout's advantages by its propagated
	// uncertainty (rl.Propagated, mean-one scaling) from the critic's
	// variances; it needs a Critic.
	Uncertainty bool `json:"uncertainty,omitempty"`
	// Normalize is how item rewards are standardised across the group:
	// rl.PerPosition (the default, also for "") or rl.Pooled.
	Normalize string `json:"normalize,omitempty"`
}

// Names of the estimators of Estimators.
const (
	// EstGRPO is the sequence-level GRPO baseline.
	EstGRPO = "grpo"
	// EstIndependent is the independent contribution g_k d_k / IDCG.
	EstIndependent = "independent"
	// EstNonCausal is the non-causal swap.
	EstNonCausal = "noncausal-swap"
	// EstCausal is FlexRec's causal swap.
	EstCausal = "causal-swap"
	// EstRankLevel is the rank-level reward to go (Rank-GRPO style).
	EstRankLevel = "rank-level"
	// EstCriticRaw is the causal swap with unobserved gains filled by the
	// critic's means, unscaled.
	EstCriticRaw = "causal-swap+critic"
	// EstCriticUncertainty adds FlexRec's uncertainty scaling to it.
	EstCriticUncertainty = "causal-swap+critic+uncertainty"
	// EstGRPOCritic is sequence-level GRPO over critic-filled gains.
	EstGRPOCritic = "grpo+critic"
	// EstUserKNN is the causal swap over gains a user-KNN critic fills.
	EstUserKNN = "causal-swap+user-knn"
	// EstItemKNN is the causal swap over gains an item-KNN critic fills.
	EstItemKNN = "causal-swap+item-knn"
	// EstCausalPooled is the causal swap standardised over all positions
	// of the group at once (rl.Pooled) instead of per position.
	EstCausalPooled = "causal-swap/pooled"
	// EstIndependentPooled is the independent contribution, pooled.
	EstIndependentPooled = "independent/pooled"
)

// Estimators returns every known estimator, the defaults first.
func Estimators() []Estimator {
	return []Estimator{
		{Name: EstGRPO, Level: rl.LevelSequence},
		{Name: EstIndependent, Level: rl.LevelItem, ItemReward: rl.Independent},
		{Name: EstNonCausal, Level: rl.LevelItem, ItemReward: rl.NonCausalSwap},
		{Name: EstCausal, Level: rl.LevelItem, ItemReward: rl.CausalSwap},
		{Name: EstCriticRaw, Level: rl.LevelItem, ItemReward: rl.CausalSwap, Critic: critic.KindEnsemble},
		{Name: EstCriticUncertainty, Level: rl.LevelItem, ItemReward: rl.CausalSwap, Critic: critic.KindEnsemble, Uncertainty: true},
		{Name: EstRankLevel, Level: rl.LevelItem, ItemReward: rl.RankLevel},
		{Name: EstGRPOCritic, Level: rl.LevelSequence, Critic: critic.KindEnsemble},
		{Name: EstUserKNN, Level: rl.LevelItem, ItemReward: rl.CausalSwap, Critic: critic.KindUserKNN},
		{Name: EstItemKNN, Level: rl.LevelItem, ItemReward: rl.CausalSwap, Critic: critic.KindItemKNN},
		{Name: EstCausalPooled, Level: rl.LevelItem, ItemReward: rl.CausalSwap, Normalize: rl.Pooled},
		{Name: EstIndependentPooled, Level: rl.LevelItem, ItemReward: rl.Independent, Normalize: rl.Pooled},
	}
}

// DefaultEstimators returns the six estimators of the table:
// grpo, independent, noncausal-swap, causal-swap, causal-swap+critic and
// causal-swap+critic+uncertainty.
func DefaultEstimators() []Estimator { return Estimators()[:6] }

// LookupEstimator returns the estimator named name, or an error listing
// the known names.
func LookupEstimator(name string) (Estimator, error) {
	var names []string
	for _, e := range Estimators() {
		if e.Name == name {
			return e, nil
		}
		names = append(names, e.Name)
	}
	return Estimator{}, fmt.Errorf("testbed: unknown estimator %q (%s)", name, strings.Join(names, ", "))
}

// Validate reports an estimator whose fields do not fit together.
func (e Estimator) Validate() error {
	switch {
	case strings.TrimSpace(e.Name) == "":
		return fmt.Errorf("testbed: estimator without a name")
	case e.Level != rl.LevelItem && e.Level != rl.LevelSequence:
		return fmt.Errorf("testbed: estimator %q: level %q, want item or sequence", e.Name, e.Level)
	case e.Critic != "" && e.Critic != critic.KindEnsemble && e.Critic != critic.KindUserKNN && e.Critic != critic.KindItemKNN:
		return fmt.Errorf("testbed: estimator %q: critic %q, want ensemble, user-knn or item-knn", e.Name, e.Critic)
	case e.Uncertainty && e.Critic == "":
		return fmt.Errorf("testbed: estimator %q: uncertainty scaling needs a critic", e.Name)
	case e.Normalize != "" && e.Normalize != rl.PerPosition && e.Normalize != rl.Pooled:
		return fmt.Errorf("testbed: estimator %q: normalize %q, want position or pooled", e.Name, e.Normalize)
	}
	if _, err := rl.ParseItemReward(string(e.ItemReward)); err != nil {
		return fmt.Errorf("testbed: estimator %q: %w", e.Name, err)
	}
	return nil
}

// RunsIn reports whether the estimator trains in the given mode: every
// estimator runs in the sparse mode, those without a critic in the dense
// mode too.
func (e Estimator) RunsIn(mode string) bool { return mode == ModeSparse || e.Critic == "" }

// rlConfig returns the rl.Config of the estimator: base (the run's
// switches) with the estimator's level, item reward, uncertainty and
// normalisation, under the training cutoff.
func (e Estimator) rlConfig(base rl.Config, cutoff int) rl.Config {
	c := base
	c.Cutoff, c.Level = cutoff, e.Level
	if e.ItemReward != "" {
		c.ItemReward = e.ItemReward
	}
	if !e.Uncertainty {
		c.Uncertainty = rl.NoUncertainty
	} else if c.Uncertainty == rl.NoUncertainty {
		c.Uncertainty = rl.Propagated
	}
	if e.Normalize != "" {
		c.Normalize = e.Normalize
	}
	return c
}
