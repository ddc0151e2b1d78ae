package rl

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// linearVar is the oracle for propagated variances: every reward here is
// linear in the gains once IDCG is fixed, so the coefficient of gain c is
// f(g + e_c) − f(g), and Var f = Σ_c coef_c² σ_c².
func linearVar(gains, variances []float64, f func([]float64) []float64) []float64 {
	base := f(gains)
	out := make([]float64, len(base))
	for c := range gains {
		g := append([]float64(nil), gains...)
		g[c]++
		bumped := f(g)
		for p := range out {
			coef := bumped[p] - base[p]
			out[p] += coef * coef * variances[c]
		}
	}
	return out
}

func TestItemVariancesMatchOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, kind := range ItemRewards {
		t.Run(string(kind), func(t *testing.T) {
			var sc Scorer
			for ci, c := range genCases(150) {
				vars := make([]float64, len(c.gains))
				for i := range vars {
					if rng.IntN(3) > 0 {
						vars[i] = rng.Float64()
					}
				}
				require.NoError(t, sc.Reset(c.gains, c.k))
				got, err := sc.ItemVariancesInto(nil, c.perm, vars, kind)
				require.NoError(t, err)
				idcg := sc.IDCG()
				want := linearVar(c.gains, vars, func(g []float64) []float64 {
					if idcg == 0 {
						return make([]float64, len(c.perm))
					}
					return bruteItem(g, c.perm, c.k, kind, idcg)
				})
				assert.InDeltaSlice(t, want, got, 1e-10, "case %d", ci)
			}
		})
	}
}

func TestVarianceMatchesOracle(t *testing.T) {
	var sc Scorer
	for ci, c := range genCases(150) {
		vars := make([]float64, len(c.gains))
		for i := range vars {
			vars[i] = float64(i%3) * 0.5
		}
		require.NoError(t, sc.Reset(c.gains, c.k))
		got, err := sc.Variance(c.perm, vars, Propagated)
		require.NoError(t, err)
		idcg := sc.IDCG()
		want := linearVar(c.gains, vars, func(g []float64) []float64 {
			if idcg == 0 {
				return []float64{0}
			}
			return []float64{bruteNDCG(g, c.perm, c.k, idcg)}
		})
		assert.InDelta(t, want[0], got, 1e-12, "case %d", ci)
	}
}

func TestVarianceHandComputed(t *testing.T) {
	d2 := 1 / math.Log2(3)
	sc, err := NewScorer([]float64{3, 2, 1}, 0)
	require.NoError(t, err)
	idcg := sc.IDCG()
	vars := []float64{0, 0.5, 2} // items 1 and 2 predicted
	u, err := sc.Variance([]int{2, 0, 1}, vars, Propagated)
	require.NoError(t, err)
	assert.InDelta(t, (1*2+0.25*0.5)/(idcg*idcg), u, 1e-15, "propagated: item 2 at position 1, item 1 at 3")
	u, err = sc.Variance([]int{1, 2, 0}, vars, Propagated)
	require.NoError(t, err)
	assert.InDelta(t, (0.5+d2*d2*2)/(idcg*idcg), u, 1e-15, "propagated, another order")
	u, err = sc.Variance([]int{2, 0, 1}, vars, PlainSum)
	require.NoError(t, err)
	assert.InDelta(t, 2.5, u, 1e-15, "plain sum")
	u, err = sc.Variance([]int{2, 0, 1}, nil, Propagated)
	require.NoError(t, err)
	assert.Equal(t, 0.0, u, "nil variances")
	_, err = sc.Variance([]int{2, 0, 1}, []float64{1}, Propagated)
	assert.ErrorIs(t, err, ErrGains, "misaligned variances")
	_, err = sc.Variance([]int{2, 0, 1}, []float64{0, -1, 0}, Propagated)
	assert.ErrorIs(t, err, ErrGains, "negative variance")
}

func TestGRPO(t *testing.T) {
	const delta = 1e-4
	tests := []struct {
		name    string
		rewards []float64
		want    []float64
	}{
		{"spread", []float64{1, 2, 3}, []float64{-1 / (1 + delta), 0, 1 / (1 + delta)}},
		{"all equal", []float64{0.1, 0.1, 0.1}, []float64{0, 0, 0}},
		{"single", []float64{0.7}, []float64{0}},
		{"two", []float64{0, 1}, []float64{-0.5 / (math.Sqrt(0.5) + delta), 0.5 / (math.Sqrt(0.5) + delta)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.InDeltaSlice(t, tc.want, GRPOInto(nil, tc.rewards, delta), 1e-12)
		})
	}
}

func TestScales(t *testing.T) {
	tests := []struct {
		name string
		u    []float64
		mode Scaling
		want []float64
	}{
		{"all observed", []float64{0, 0, 0}, MeanOne, []float64{1, 1, 1}},
		{"mean one", []float64{0, 1}, MeanOne, []float64{4.0 / 3, 2.0 / 3}},
		{"clamp", []float64{0, 1}, Clamp, []float64{1.2, 0.8}},
		{"raw", []float64{0, 1}, Raw, []float64{1, 0.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.InDeltaSlice(t, tc.want, ScalesInto(nil, tc.u, 1, tc.mode, 0.8, 1.2), 1e-12)
		})
	}
}

func TestGroupSequenceAndItemLevels(t *testing.T) {
	gains := []float64{3, 2, 1, 0}
	rollouts := []Rollout{
		{Permutation: []int{0, 1, 2, 3}},
		{Permutation: []int{3, 2, 1, 0}},
		{Permutation: []int{1, 0, 3, 2}},
	}
	cfg := DefaultConfig()
	cfg.Normalize = PerPosition
	gr, err := NewGroup(cfg)
	require.NoError(t, err)
	require.NoError(t, gr.Compute(gains, nil, rollouts))
	r := make([]float64, 3)
	items := make([][]float64, 3)
	for i, ro := range rollouts {
		r[i], _ = ListReward(gains, ro.Permutation, 0)
		items[i], _ = ItemRewardsFor(gains, ro.Permutation, 0, CausalSwap)
	}
	assert.InDeltaSlice(t, r, gr.Rewards(), 1e-12, "rewards")
	assert.Equal(t, []float64{1, 1, 1}, gr.Scales(), "no variances, no scaling")
	assert.InDeltaSlice(t, GRPOInto(nil, r, cfg.Delta), gr.SequenceAdvantages(), 1e-12, "sequence advantages")
	for p := range 4 { // per-position standardisation, computed by hand
		col := []float64{items[0][p], items[1][p], items[2][p]}
		want := GRPOInto(nil, col, cfg.Delta)
		for i := range 3 {
			assert.InDelta(t, want[i], gr.ItemAdvantages(i)[p], 1e-12, "rollout %d position %d", i, p+1)
		}
	}
	assert.Equal(t, []float64{0, 0, 0}, []float64{gr.ItemAdvantages(0)[3], gr.ItemAdvantages(1)[3], gr.ItemAdvantages(2)[3]}, "last position is forced")

	// The default normalisation is pooled: one standardisation over all
	// 12 item rewards, the forced last positions' zeros included.
	gp, err := NewGroup(DefaultConfig())
	require.NoError(t, err)
	require.NoError(t, gp.Compute(gains, nil, rollouts))
	pool := append(append(append([]float64(nil), items[0]...), items[1]...), items[2]...)
	want := GRPOInto(nil, pool, cfg.Delta)
	for i := range 3 {
		assert.InDeltaSlice(t, want[4*i:4*i+4], gp.ItemAdvantages(i), 1e-12, "default (pooled) advantages of rollout %d", i)
	}

	cfg.Level = LevelSequence
	gs, err := NewGroup(cfg)
	require.NoError(t, err)
	require.NoError(t, gs.Compute(gains, nil, rollouts))
	for i := range 3 {
		for _, a := range gs.ItemAdvantages(i) {
			assert.Equal(t, gs.SequenceAdvantages()[i], a, "sequence level: every item gets A_%d", i)
		}
	}
}

func TestGroupPooledAndRepaired(t *testing.T) {
	gains := []float64{3, 2, 1, 0}
	rollouts := []Rollout{
		{Permutation: []int{0, 1, 2, 3}, Repaired: []bool{false, false, true, true}},
		{Permutation: []int{3, 2, 1, 0}},
	}
	cfg := DefaultConfig()
	cfg.Normalize = Pooled
	gr, err := NewGroup(cfg)
	require.NoError(t, err)
	require.NoError(t, gr.Compute(gains, nil, rollouts))
	// Pooled over the 6 generated items only.
	var x []float64
	for i := range 2 {
		for p, v := range gr.ItemRewards(i) {
			if i != 0 || p < 2 {
				x = append(x, v)
			}
		}
	}
	want := GRPOInto(nil, x, cfg.Delta)
	got := append(append([]float64(nil), gr.ItemAdvantages(0)[:2]...), gr.ItemAdvantages(1)...)
	assert.InDeltaSlice(t, want, got, 1e-12, "pooled over generated items")
	assert.Equal(t, []float64{0, 0}, gr.ItemAdvantages(0)[2:], "repaired items get no credit")

	cfg.FormatPenalty = 0.4
	gp, err := NewGroup(cfg)
	require.NoError(t, err)
	require.NoError(t, gp.Compute(gains, nil, rollouts))
	assert.InDelta(t, 1-0.4*2/4, gp.Rewards()[0], 1e-12, "format penalty on half repaired")
}

func TestGroupNoVarianceGivesZeros(t *testing.T) {
	gains := []float64{1, 1, 1}
	rollouts := []Rollout{{Permutation: []int{0, 1, 2}}, {Permutation: []int{2, 1, 0}}, {Permutation: []int{1, 2, 0}}}
	for _, norm := range []string{PerPosition, Pooled} {
		cfg := DefaultConfig()
		cfg.Normalize = norm
		gr, err := NewGroup(cfg)
		require.NoError(t, err)
		require.NoError(t, gr.Compute(gains, []float64{0, 0.5, 0}, rollouts))
		for i := range 3 {
			assert.Equal(t, 0.0, gr.SequenceAdvantages()[i], "%s: sequence %d", norm, i)
			for p, a := range gr.ItemAdvantages(i) {
				assert.Equal(t, 0.0, a, "%s: rollout %d position %d", norm, i, p+1)
			}
		}
	}
}

func TestGroupUncertaintyScaling(t *testing.T) {
	gains := []float64{3, 2, 1, 0}
	vars := []float64{0, 0, 1, 0} // only item 2 is predicted
	rollouts := []Rollout{
		{Permutation: []int{2, 0, 1, 3}}, // uncertain item first: large u
		{Permutation: []int{0, 1, 3, 2}}, // uncertain item last: small u
		{Permutation: []int{1, 0, 2, 3}},
	}
	cfg := DefaultConfig()
	gr, err := NewGroup(cfg)
	require.NoError(t, err)
	require.NoError(t, gr.Compute(gains, vars, rollouts))
	plain, err := NewGroup(func() Config { c := cfg; c.Uncertainty = NoUncertainty; return c }())
	require.NoError(t, err)
	require.NoError(t, plain.Compute(gains, vars, rollouts))

	u, c := gr.Uncertainties(), gr.Scales()
	assert.Greater(t, u[0], u[2], "u: uncertain item at 1 vs at 3")
	assert.Greater(t, u[2], u[1], "u: uncertain item at 3 vs at 4")
	assert.InDelta(t, 1.0, (c[0]+c[1]+c[2])/3, 1e-12, "scales average 1")
	assert.Less(t, c[0], c[1], "more uncertainty, smaller scale")
	for i := range 3 {
		assert.InDelta(t, plain.SequenceAdvantages()[i]*c[i], gr.SequenceAdvantages()[i], 1e-12, "sequence %d scaled after normalisation", i)
		for p := range 4 {
			assert.InDelta(t, plain.ItemAdvantages(i)[p]*c[i], gr.ItemAdvantages(i)[p], 1e-12, "item %d,%d", i, p+1)
		}
	}

	cfg.PerItem = true
	pi, err := NewGroup(cfg)
	require.NoError(t, err)
	require.NoError(t, pi.Compute(gains, vars, rollouts))
	for i := range 3 {
		for p := range 4 {
			a, b := plain.ItemAdvantages(i)[p], pi.ItemAdvantages(i)[p]
			assert.True(t, a*b > 0 || (a == 0 && b == 0), "per-item scaling keeps the sign at %d,%d: %v vs %v", i, p+1, a, b)
		}
	}
}

func TestGroupErrors(t *testing.T) {
	gr, err := NewGroup(DefaultConfig())
	require.NoError(t, err)
	gains := []float64{1, 2, 3}
	tests := []struct {
		name     string
		vars     []float64
		rollouts []Rollout
		want     error
	}{
		{"empty", nil, nil, ErrGroup},
		{"lengths differ", nil, []Rollout{{Permutation: []int{0, 1, 2}}, {Permutation: []int{0, 1}}}, ErrGroup},
		{"repaired misaligned", nil, []Rollout{{Permutation: []int{0, 1, 2}, Repaired: []bool{true}}}, ErrGroup},
		{"bad permutation", nil, []Rollout{{Permutation: []int{0, 0, 2}}}, ErrPermutation},
		{"bad variances", []float64{1}, []Rollout{{Permutation: []int{0, 1, 2}}}, ErrGains},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorIs(t, gr.Compute(gains, tc.vars, tc.rollouts), tc.want)
		})
	}
	bad := DefaultConfig()
	bad.Eps = 0
	_, err = NewGroup(bad)
	assert.ErrorContains(t, err, "eps")
}

func TestTokenAdvantages(t *testing.T) {
	item := []float64{0.5, -1, 2}
	spans := []Span{{First: 2, Last: 4, Generated: true}, {Generated: false}, {First: 5, Last: 6, Generated: true}}
	got, err := TokenAdvantagesInto(nil, item, 0.3, spans, 8, OtherSequence)
	require.NoError(t, err)
	assert.Equal(t, []float64{0.3, 0.3, 0.5, 0.5, 0.3, 2, 0.3, 0.3}, got)
	got, err = TokenAdvantagesInto(got, item, 0.3, spans, 7, OtherZero)
	require.NoError(t, err)
	assert.Equal(t, []float64{0, 0, 0.5, 0.5, 0, 2, 0}, got)

	for name, sp := range map[string][]Span{
		"misaligned": spans[:2],
		"past end":   {{First: 2, Last: 9, Generated: true}, {}, {}},
		"reversed":   {{First: 3, Last: 2, Generated: true}, {}, {}},
		"overlap":    {{First: 2, Last: 4, Generated: true}, {First: 3, Last: 5, Generated: true}, {}},
	} {
		_, err := TokenAdvantagesInto(nil, item, 0, sp, 8, OtherSequence)
		assert.ErrorIs(t, err, ErrGroup, name)
	}
}

func TestGroupTokenAdvantages(t *testing.T) {
	gr, err := NewGroup(DefaultConfig())
	require.NoError(t, err)
	rollouts := []Rollout{{Permutation: []int{0, 1}}, {Permutation: []int{1, 0}, Repaired: []bool{false, true}}}
	require.NoError(t, gr.Compute([]float64{1, 0}, nil, rollouts))
	spans := []Span{{First: 1, Last: 2, Generated: true}, {}}
	got, err := gr.TokenAdvantagesInto(nil, 1, spans, 3)
	require.NoError(t, err)
	seq := gr.SequenceAdvantages()[1]
	assert.Less(t, seq, 0.0, "worse rollout")
	assert.Equal(t, []float64{seq, gr.ItemAdvantages(1)[0], seq}, got)
	_, err = gr.TokenAdvantagesInto(nil, 2, spans, 3)
	assert.ErrorIs(t, err, ErrGroup, "rollout out of range")
}
