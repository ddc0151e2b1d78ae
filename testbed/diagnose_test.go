package testbed

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/rl"
)

func TestNonCausalSwapCreditsWorseLateChoices(t *testing.T) {
	// Gains 3, 2, 1, 0. Ranking A places 1 then 0 last; B swaps them, a
	// worse choice at position 3. With d = 1, 1/log2 3, 1/2, 1/log2 5 and
	// IDCG = 3 + 2/log2 3 + 1/2, by hand:
	//   non-causal r_3(A) = [(1−3)(½−1) + (1−2)(½−d2) + (1−0)(½−d4)] / 3 / IDCG
	//   non-causal r_3(B) = [(0−3)(½−1) + (0−2)(½−d2) + (0−1)(½−d4)] / 3 / IDCG
	//   causal     r_3(A) = (1−0)(½−d4)/IDCG = −r_3(B).
	gains := []float64{3, 2, 1, 0}
	d2, d4 := 1/math.Log2(3), 1/math.Log2(5)
	idcg := 3 + 2*d2 + 0.5
	wantA := ((1-3)*(0.5-1) + (1-2)*(0.5-d2) + (0.5 - d4)) / 3 / idcg
	wantB := ((0-3)*(0.5-1) + (0-2)*(0.5-d2) - (0.5 - d4)) / 3 / idcg
	a, err := rl.ItemRewardsFor(gains, []int{0, 1, 2, 3}, 0, rl.NonCausalSwap)
	require.NoError(t, err)
	b, err := rl.ItemRewardsFor(gains, []int{0, 1, 3, 2}, 0, rl.NonCausalSwap)
	require.NoError(t, err)
	assert.InDelta(t, wantA, a[2], 1e-12, "non-causal r_3 of the better choice")
	assert.InDelta(t, wantB, b[2], 1e-12, "non-causal r_3 of the worse choice")
	assert.Greater(t, b[2], a[2], "non-causal swap rewards the worse choice at position 3 more")
	ca, _ := rl.ItemRewardsFor(gains, []int{0, 1, 2, 3}, 0, rl.CausalSwap)
	cb, _ := rl.ItemRewardsFor(gains, []int{0, 1, 3, 2}, 0, rl.CausalSwap)
	assert.InDelta(t, (0.5-d4)/idcg, ca[2], 1e-12, "causal r_3 of the better choice")
	assert.InDelta(t, -(0.5-d4)/idcg, cb[2], 1e-12, "causal r_3 of the worse choice")
}

func TestAddCreditHandComputed(t *testing.T) {
	// Gains by candidate 0..2: 4, 1, 0; ranking 1, 0, 2. Position 1 chose
	// gain 1 against alternatives 4 and 0 (mean 2): credit −1; position 2
	// chose 4 against 0: credit 4; the last position is skipped.
	var acc corrAcc
	addCredit(&acc, []float64{-2, 8, 99}, []int{1, 0, 2}, []float64{4, 1, 0})
	assert.Equal(t, 2.0, acc.n, "positions counted")
	assert.InDelta(t, 1, acc.corr(), 1e-12, "advantages proportional to the credit")
	var flat corrAcc
	addCredit(&flat, []float64{1, 1, 1}, []int{1, 0, 2}, []float64{4, 1, 0})
	assert.Equal(t, 0.0, flat.corr(), "constant advantages carry no credit")
}

func TestDiagnoseRanksTheEstimators(t *testing.T) {
	p := syntheticProblem(t, 40, 2)
	// Per-position normalisation, where the non-causal swap's credit
	// points the wrong way (see TestNonCausalSwapCollapsesOnlyPerPosition).
	tc := DefaultTrainConfig()
	tc.RL.Normalize = rl.PerPosition
	ds, err := Diagnose(p, []string{ModeDense, ModeSparse}, DefaultEstimators(), 1, tc, measures[0])
	require.NoError(t, err)
	require.Len(t, ds, (4+6)*2, "one diagnostic per mode, estimator run there and need")
	at := map[string]float64{}
	for _, d := range ds {
		if d.Need == "interest" {
			at[d.Mode+" "+d.Estimator] = d.CreditCorr
		}
		if d.Mode == ModeDense {
			assert.InDelta(t, 1, d.Ceiling, 1e-12, "%s %s: sorting by the true gains is NDCG 1", d.Estimator, d.Need)
		} else {
			assert.Less(t, d.Ceiling, 1.0, "%s %s: hidden gains lower the ceiling", d.Estimator, d.Need)
		}
		if d.Estimator == EstCriticUncertainty {
			assert.Positive(t, d.ScaleDev, "%s: the scaling moves the advantages", d.Need)
		}
	}
	assert.Greater(t, at["dense causal-swap"], 0.5, "dense causal swap credit")
	assert.Greater(t, at["dense causal-swap"], at["dense grpo"]+0.3, "item-level credit beats sequence-level per position")
	assert.Negative(t, at["dense noncausal-swap"], "non-causal swap credit points the wrong way per position")
	assert.Greater(t, at["dense causal-swap"], at["sparse causal-swap"], "sparse feedback carries less credit")
}
