package rl

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSwitches(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func(string) (string, error)
		valid []string
		def   string
	}{
		{"level", ParseLevel, []string{"item", "sequence"}, LevelItem},
		{"normalize", ParseNormalize, []string{"pooled", "position"}, Pooled},
		{"other tokens", ParseOtherTokens, []string{"sequence", "zero"}, OtherSequence},
		{"uncertainty", func(s string) (string, error) { u, err := ParseUncertainty(s); return string(u), err },
			[]string{"propagated", "sum", "none"}, string(Propagated)},
		{"scaling", func(s string) (string, error) { u, err := ParseScaling(s); return string(u), err },
			[]string{"mean", "clamp", "none"}, string(MeanOne)},
		{"repaired tail", func(s string) (string, error) { u, err := ParseRepairedTail(s); return string(u), err },
			[]string{"counted", "excluded", "zero"}, string(TailCounted)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.parse("")
			require.NoError(t, err, "parse of the empty name")
			assert.Equal(t, tc.def, got, "the empty name gives the default")
			for _, v := range tc.valid {
				got, err := tc.parse(v)
				require.NoError(t, err, "parse %q", v)
				assert.Equal(t, v, got, "parse %q", v)
			}
			_, err = tc.parse("bogus")
			require.Error(t, err, "parse of an unknown name")
			assert.Contains(t, err.Error(), tc.valid[len(tc.valid)-1], "the error lists the valid names")
		})
	}
}

func TestConfigSwitchesAndValidate(t *testing.T) {
	c := DefaultConfig()
	require.NoError(t, c.Validate())
	assert.Contains(t, c.Switches(), "normalize=pooled")
	assert.Contains(t, c.Switches(), "repaired_tail=counted")
	c.RepairedTail = "sometimes"
	assert.ErrorContains(t, c.Validate(), "repaired_tail", "an unknown repaired tail is invalid")
	c.RepairedTail = ""
	assert.NoError(t, c.Validate(), "the empty repaired tail means counted")
}

// TestGroupRepairedTail checks the three treatments of a repaired tail by
// hand. Gains 3, 2, 1, 0; rollout 0 wrote items 1 (gain 2) and 3 (gain 0)
// and the parser appended 0 (gain 3) and 2 (gain 1); rollout 1 is the
// ideal ranking, fully generated.
func TestGroupRepairedTail(t *testing.T) {
	d2, d4 := 1/math.Log2(3), 1/math.Log2(5)
	idcg := 3 + 2*d2 + 0.5
	gains := []float64{3, 2, 1, 0}
	vars := []float64{0.5, 1, 2, 4}
	rollouts := []Rollout{
		{Permutation: []int{1, 3, 0, 2}, Repaired: []bool{false, false, true, true}},
		{Permutation: []int{0, 1, 2, 3}},
	}
	// The ideal rollout's causal swap rewards.
	ideal := []float64{
		((3-2)*(1-d2) + (3-1)*(1-0.5) + (3-0)*(1-d4)) / 3 / idcg,
		((2-1)*(d2-0.5) + (2-0)*(d2-d4)) / 2 / idcg,
		(1 - 0) * (0.5 - d4) / idcg,
		0,
	}
	for _, tc := range []struct {
		name   string
		tail   RepairedTail
		reward float64   // R_0
		items  []float64 // r_{0,k}
		u      float64   // u_0, propagated
	}{
		{"counted", TailCounted, (2 + 3*0.5 + 1*d4) / idcg,
			[]float64{((2-0)*(1-d2) + (2-3)*(1-0.5) + (2-1)*(1-d4)) / 3 / idcg,
				((0-3)*(d2-0.5) + (0-1)*(d2-d4)) / 2 / idcg, (3 - 1) * (0.5 - d4) / idcg, 0},
			(1*1 + d2*d2*4 + 0.25*0.5 + d4*d4*2) / (idcg * idcg)},
		{"excluded", TailExcluded, 2 / idcg,
			[]float64{(2 - 0) * (1 - d2) / idcg, 0, 0, 0},
			(1*1 + d2*d2*4) / (idcg * idcg)},
		{"zero", TailZero, 0, []float64{0, 0, 0, 0}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Normalize = PerPosition // the hand-computed advantage below is per position
			cfg.RepairedTail = tc.tail
			gr, err := NewGroup(cfg)
			require.NoError(t, err)
			require.NoError(t, gr.Compute(gains, vars, rollouts))
			assert.InDelta(t, tc.reward, gr.Rewards()[0], 1e-12, "R of the repaired rollout")
			assert.InDelta(t, 1, gr.Rewards()[1], 1e-12, "R of the ideal rollout")
			assert.InDeltaSlice(t, tc.items, gr.ItemRewards(0), 1e-12, "item rewards of the repaired rollout")
			assert.InDeltaSlice(t, ideal, gr.ItemRewards(1), 1e-12, "item rewards of the ideal rollout")
			assert.InDelta(t, tc.u, gr.Uncertainties()[0], 1e-12, "u of the repaired rollout")
			assert.Equal(t, []float64{0, 0}, gr.ItemAdvantages(0)[2:], "repaired items get no advantage")
			// Per position over the two rollouts: position 1 has both items
			// generated, (x − mean)/(sample std + δ) = ±(|a−b|/2)/(|a−b|/√2 + δ).
			a, b := tc.items[0], ideal[0]
			want := math.Copysign(math.Abs(a-b)/2/(math.Abs(a-b)/math.Sqrt2+cfg.Delta), a-b)
			sc := gr.Scales()[0]
			assert.InDelta(t, want*sc, gr.ItemAdvantages(0)[0], 1e-9, "advantage of position 1")
		})
	}
}

func TestGroupRepairedTailAllRepaired(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RepairedTail = TailExcluded
	cfg.FormatPenalty = 0.5
	gr, err := NewGroup(cfg)
	require.NoError(t, err)
	rollouts := []Rollout{{Permutation: []int{0, 1}, Repaired: []bool{true, true}}, {Permutation: []int{1, 0}}}
	require.NoError(t, gr.Compute([]float64{1, 2}, nil, rollouts))
	assert.InDelta(t, -0.5, gr.Rewards()[0], 1e-12, "nothing generated: R = 0 − penalty")
	assert.Equal(t, []float64{0, 0}, gr.ItemRewards(0), "nothing generated: no item reward")
}
