package testbed

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rl"
)

func validConfig() Config {
	c := DefaultConfig()
	c.Measures = measures
	return c
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, validConfig().Validate(), "DefaultConfig with measures")
	q := QuickConfig()
	q.Measures = measures
	require.NoError(t, q.Validate(), "QuickConfig with measures")
	search, _ := prompt.LookupNeed("search")
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"no measures", func(c *Config) { c.Measures = nil }},
		{"nil metric", func(c *Config) { c.Measures = []Measure{{Name: "x", K: 5}} }},
		{"no needs", func(c *Config) { c.Needs = nil }},
		{"need twice", func(c *Config) { c.Needs = append(c.Needs, c.Needs[0]) }},
		{"search need", func(c *Config) { c.Needs = []prompt.Need{search} }},
		{"unknown mode", func(c *Config) { c.Modes = []string{"half"} }},
		{"no seeds", func(c *Config) { c.Seeds = nil }},
		{"bad estimator", func(c *Config) { c.Estimators = []Estimator{{Name: "x", Level: "token"}} }},
		{"sparse 0", func(c *Config) { c.Sparse = 0 }},
		{"held out 1", func(c *Config) { c.HeldOut = 1 }},
		{"workers 0", func(c *Config) { c.Workers = 0 }},
		{"group 1", func(c *Config) { c.Train.Group = 1 }},
		{"clip 1", func(c *Config) { c.Train.Clip = 1 }},
		{"negative kl", func(c *Config) { c.Train.KL = -1 }},
		{"lr 0", func(c *Config) { c.Train.LR = 0 }},
		{"iters 0", func(c *Config) { c.Train.Iters = 0 }},
		{"history 0", func(c *Config) { c.Build.HistoryLen = 0 }},
		{"critic models 1", func(c *Config) { c.Critic.Models = 1 }},
		{"affinity factors 0", func(c *Config) { c.Affinity.Factors = 0 }},
		{"unknown policy", func(c *Config) { c.Policies = []string{"transformer"} }},
		{"no normalizations", func(c *Config) { c.Normalizations = nil }},
		{"unknown normalization", func(c *Config) { c.Normalizations = []string{"global"} }},
		{"negative cutoff", func(c *Config) { c.Cutoffs = []int{-1} }},
		{"negative entropy", func(c *Config) { c.Train.Entropy = -1 }},
		{"bad rl switch", func(c *Config) { c.Train.RL.RepairedTail = "drop" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			assert.Error(t, c.Validate(), "Validate after %s", tc.name)
		})
	}
}

func TestExploreNeed(t *testing.T) {
	n := ExploreNeed()
	assert.Equal(t, "explore", n.ID, "id")
	assert.Equal(t, 1, n.Gain.MaxOverlap, "max_overlap")
	assert.Equal(t, 4.0, n.Gain.Gain(prompt.GainInput{Engagement: 4, Overlap: 1}), "one familiar genre still counts")
	assert.Equal(t, 0.0, n.Gain.Gain(prompt.GainInput{Engagement: 4, Overlap: 2}), "two do not")
}

func TestEstimators(t *testing.T) {
	names := map[string]bool{}
	for _, e := range Estimators() {
		require.NoError(t, e.Validate(), "estimator %s", e.Name)
		assert.False(t, names[e.Name], "estimator %s listed twice", e.Name)
		names[e.Name] = true
		got, err := LookupEstimator(e.Name)
		require.NoError(t, err)
		assert.Equal(t, e, got, "LookupEstimator(%s)", e.Name)
	}
	assert.Len(t, DefaultEstimators(), 6, "the issue's six estimators")
	_, err := LookupEstimator("ppo")
	assert.ErrorContains(t, err, "causal-swap", "unknown estimator lists the names")
	for _, tc := range []struct {
		est              Estimator
		dense            bool
		level            string
		reward           rl.ItemReward
		uncertaintyScale bool
	}{
		{Estimators()[0], true, rl.LevelSequence, rl.CausalSwap, false},
		{Estimators()[2], true, rl.LevelItem, rl.NonCausalSwap, false},
		{Estimators()[4], false, rl.LevelItem, rl.CausalSwap, false},
		{Estimators()[5], false, rl.LevelItem, rl.CausalSwap, true},
	} {
		t.Run(tc.est.Name, func(t *testing.T) {
			assert.Equal(t, tc.dense, tc.est.RunsIn(ModeDense), "RunsIn dense")
			assert.True(t, tc.est.RunsIn(ModeSparse), "RunsIn sparse")
			c := tc.est.rlConfig(rl.DefaultConfig(), 0)
			require.NoError(t, c.Validate())
			assert.Equal(t, tc.level, c.Level, "level")
			assert.Equal(t, tc.reward, c.ItemReward, "item reward")
			assert.Equal(t, tc.uncertaintyScale, c.Uncertainty != rl.NoUncertainty, "uncertainty scaling")
			assert.Equal(t, rl.Pooled, c.Normalize, "rl's default normalisation, inherited from the base config")
			base := rl.DefaultConfig()
			base.Normalize = rl.PerPosition
			assert.Equal(t, rl.PerPosition, tc.est.rlConfig(base, 0).Normalize, "the base config's normalisation")
		})
	}
	pooled, err := LookupEstimator(EstCausalPooled)
	require.NoError(t, err)
	assert.Equal(t, rl.Pooled, pooled.rlConfig(rl.DefaultConfig(), 0).Normalize, "causal-swap/pooled normalisation")
	for _, bad := range []Estimator{
		{Name: "", Level: rl.LevelItem},
		{Name: "x", Level: rl.LevelItem, Uncertainty: true},
		{Name: "x", Level: rl.LevelItem, Critic: "oracle"},
		{Name: "x", Level: rl.LevelItem, ItemReward: "best"},
		{Name: "x", Level: rl.LevelItem, Normalize: "global"},
	} {
		assert.Error(t, bad.Validate(), "Validate(%+v)", bad)
	}
}
