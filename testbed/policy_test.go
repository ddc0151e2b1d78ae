package testbed

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// permutations returns every permutation of 0..n-1.
func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for at := 0; at <= len(p); at++ {
			q := append(append(append([]int{}, p[:at]...), n-1), p[at:]...)
			out = append(out, q)
		}
	}
	return out
}

// bruteLogProb is the Plackett–Luce log-probability of perm computed the
// slow way: at each position, an explicit softmax over the items left.
func bruteLogProb(s []float64, perm []int) []float64 {
	out := make([]float64, len(perm))
	for p, y := range perm {
		var z float64
		for _, j := range perm[p:] {
			z += math.Exp(s[j])
		}
		out[p] = math.Log(math.Exp(s[y]) / z)
	}
	return out
}

func TestLogProbsHandComputed(t *testing.T) {
	// Two items with logits 0 and ln 2: item 1 first has probability 2/3.
	s := []float64{0, math.Log(2)}
	lp := LogProbsInto(nil, s, []int{1, 0})
	assert.InDelta(t, math.Log(2.0/3), lp[0], 1e-15, "LogProbsInto position 1")
	assert.Equal(t, 0.0, lp[1], "LogProbsInto: the last item is forced")
	lp = LogProbsInto(lp, s, []int{0, 1})
	assert.InDelta(t, math.Log(1.0/3), lp[0], 1e-15, "LogProbsInto other order")
	// Three items with logits 0, 0, ln 2: P(2, 0, 1) = (2/4)·(1/2) = 1/4.
	lp = LogProbsInto(nil, []float64{0, 0, math.Log(2)}, []int{2, 0, 1})
	assert.InDelta(t, math.Log(0.25), lp[0]+lp[1]+lp[2], 1e-15, "LogProbsInto three items")
}

func TestLogProbsExactOverAllPermutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name  string
		n     int
		scale float64
	}{
		{"n=3 small logits", 3, 0.5},
		{"n=5 unit logits", 5, 1},
		{"n=6 wide logits", 6, 8},
		{"n=5 huge logits", 5, 400}, // exp overflows without the running maximum
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := make([]float64, tc.n)
			for i := range s {
				s[i] = tc.scale * rng.NormFloat64()
			}
			var total float64
			for _, perm := range permutations(tc.n) {
				lp := LogProbsInto(nil, s, perm)
				var sum float64
				for p, v := range lp {
					require.False(t, math.IsNaN(v) || math.IsInf(v, 0) && tc.scale < 100, "ℓ_%d of %v is %v", p, perm, v)
					sum += v
				}
				if tc.scale < 100 {
					want := bruteLogProb(s, perm)
					for p := range lp {
						assert.InDelta(t, want[p], lp[p], 1e-12, "ℓ_%d of %v", p, perm)
					}
				}
				total += math.Exp(sum)
			}
			assert.InDelta(t, 1, total, 1e-12, "Σ over all %d! permutations of π(y)", tc.n)
		})
	}
}

func TestSampleMatchesPlackettLuce(t *testing.T) {
	s := []float64{0.3, -0.5, 1.2, 0}
	rng := rand.New(rand.NewPCG(7, 8))
	const draws = 200000
	counts := map[[4]int]int{}
	var perm []int
	var keys []float64
	for range draws {
		perm, keys = SampleInto(perm, keys, s, rng)
		counts[[4]int(perm)]++
	}
	for _, p := range permutations(4) {
		lp := LogProbsInto(nil, s, p)
		prob := math.Exp(lp[0] + lp[1] + lp[2] + lp[3])
		se := math.Sqrt(prob * (1 - prob) / draws)
		got := float64(counts[[4]int(p)]) / draws
		assert.InDelta(t, prob, got, 5*se, "frequency of %v: got %v, want %v", p, got, prob)
	}
}

func TestGreedyInto(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    []float64
		want []int
	}{
		{"descending", []float64{0.1, 3, -1, 2}, []int{1, 3, 0, 2}},
		{"ties by index", []float64{1, 2, 1, 2}, []int{1, 3, 0, 2}},
		{"one", []float64{5}, []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, GreedyInto(nil, tc.s), "GreedyInto(%v)", tc.s)
		})
	}
}

func TestLogitsInto(t *testing.T) {
	x := []float64{1, 2, 0, -1, 3, 0.5} // 3 candidates × 2 features
	got := LogitsInto(nil, []float64{2, -1}, x)
	assert.Equal(t, []float64{0, 1, 5.5}, got, "LogitsInto")
	assert.Empty(t, LogitsInto(nil, nil, x), "LogitsInto without weights")
}

func TestEmptyInputsDoNotPanic(t *testing.T) {
	assert.Empty(t, LogProbsInto(nil, []float64{1}, nil), "LogProbsInto of an empty ranking")
	perm, _ := SampleInto(nil, nil, nil, rand.New(rand.NewPCG(1, 1)))
	assert.Empty(t, perm, "SampleInto of no candidates")
	assert.Empty(t, GreedyInto(nil, nil), "GreedyInto of no candidates")
	var wk work
	o := &objective{clip: 0.2, kl: 1, invT: 1, adv: []float64{1}, old: []float64{0}, refLog: []float64{0}}
	assert.Equal(t, 0.0, wk.lossGrad([]float64{0}, []float64{1}, []float64{0}, []int{0}, o), "one candidate: nothing to learn")
}

// randomObjective returns features, weights and an objective whose old
// log-probabilities come from perturbed weights, so that the ratios spread
// across both sides of the clip.
func randomObjective(rng *rand.Rand, n, d int, clip, kl float64) (x, w []float64, perm []int, o *objective) {
	x, w = make([]float64, n*d), make([]float64, d)
	for k := range x {
		x[k] = rng.NormFloat64()
	}
	old, ref := make([]float64, d), make([]float64, d)
	for k := range w {
		w[k] = rng.NormFloat64()
		old[k] = w[k] + 0.3*rng.NormFloat64()
		ref[k] = rng.NormFloat64()
	}
	perm, _ = SampleInto(nil, nil, LogitsInto(nil, w, x), rng)
	o = &objective{clip: clip, kl: kl, invT: 1.0 / float64(n-1),
		old: LogProbsInto(nil, LogitsInto(nil, old, x), perm), refLog: LogitsInto(nil, ref, x), adv: make([]float64, n)}
	for p := range o.adv {
		o.adv[p] = rng.NormFloat64()
	}
	return x, w, perm, o
}

func lossAt(wk *work, w, x []float64, perm []int, o *objective) float64 {
	grad := make([]float64, len(w))
	return wk.lossGrad(grad, x, LogitsInto(nil, w, x), perm, o)
}

func TestLossGradientMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name          string
		n, d          int
		clip, kl, ent float64
	}{
		{"surrogate only, wide clip", 8, 5, 0.9, 0, 0},
		{"surrogate only, tight clip", 8, 5, 0.05, 0, 0},
		{"KL only", 7, 4, 0.2, 1, 0}, // advantages zeroed below
		{"surrogate and KL", 30, 18, 0.2, 0.5, 0},
		{"entropy only", 7, 4, 0.2, 0, 0.7}, // advantages zeroed below
		{"surrogate, KL and entropy", 30, 18, 0.2, 0.01, 0.005},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for trial := range 5 {
				x, w, perm, o := randomObjective(rng, tc.n, tc.d, tc.clip, tc.kl)
				o.ent = tc.ent
				if tc.name == "KL only" || tc.name == "entropy only" {
					clear(o.adv)
				}
				var wk work
				grad := make([]float64, tc.d)
				wk.lossGrad(grad, x, LogitsInto(nil, w, x), perm, o)
				const h = 1e-6
				for k := range w {
					wp, wm := slices.Clone(w), slices.Clone(w)
					wp[k] += h
					wm[k] -= h
					fd := (lossAt(&wk, wp, x, perm, o) - lossAt(&wk, wm, x, perm, o)) / (2 * h)
					assert.InDelta(t, fd, grad[k], 1e-6*(1+math.Abs(fd)), "trial %d: ∂L/∂w_%d: closed form %v, finite difference %v", trial, k, grad[k], fd)
				}
			}
		})
	}
}

// bruteKL is Σ_p KL(π_p ‖ π^ref_p) over the positions of perm, from
// explicit softmaxes over the items left.
func bruteKL(s, ref []float64, perm []int) float64 {
	var kl float64
	for p := range perm {
		var z, zr float64
		for _, j := range perm[p:] {
			z += math.Exp(s[j])
			zr += math.Exp(ref[j])
		}
		for _, j := range perm[p:] {
			pi := math.Exp(s[j]) / z
			kl += pi * math.Log(pi/(math.Exp(ref[j])/zr))
		}
	}
	return kl
}

func TestKLExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 10 {
		x, w, perm, o := randomObjective(rng, 9, 4, 0.2, 1)
		clear(o.adv)
		o.invT = 1
		var wk work
		s := LogitsInto(nil, w, x)
		got := wk.lossGrad(make([]float64, len(w)), x, s, perm, o)
		assert.InDelta(t, bruteKL(s, o.refLog, perm), got, 1e-12, "trial %d: Σ_p KL_p", trial)
		assert.GreaterOrEqual(t, got, -1e-15, "KL is non-negative")
	}
	// The KL to itself is 0, with a zero gradient.
	x, w, perm, o := randomObjective(rng, 6, 3, 0.2, 1)
	clear(o.adv)
	o.refLog = LogitsInto(nil, w, x)
	var wk work
	grad := make([]float64, len(w))
	assert.InDelta(t, 0, wk.lossGrad(grad, x, LogitsInto(nil, w, x), perm, o), 1e-15, "KL(π‖π)")
	for k, g := range grad {
		assert.InDelta(t, 0, g, 1e-15, "∂KL(π‖π)/∂w_%d", k)
	}
}

func TestSurrogateClipsTheRatio(t *testing.T) {
	// One position that matters (n = 2): logits 0 and w·1 with x = [0; 1].
	x := []float64{0, 1}
	perm := []int{1, 0}
	for _, tc := range []struct {
		name     string
		w, adv   float64
		wantGrad bool
	}{
		{"ratio inside the clip", 0.05, 1, true},
		{"positive advantage, ratio above 1+ε", 2, 1, false},
		{"negative advantage, ratio above 1+ε", 2, -1, true},
		{"negative advantage, ratio below 1−ε", -2, -1, false},
		{"positive advantage, ratio below 1−ε", -2, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &objective{clip: 0.2, invT: 1, adv: []float64{tc.adv, 0},
				old: LogProbsInto(nil, []float64{0, 0}, perm), refLog: []float64{0, 0}}
			var wk work
			grad := []float64{0}
			loss := wk.lossGrad(grad, x, []float64{0, tc.w}, perm, o)
			rho := math.Exp(LogProbsInto(nil, []float64{0, tc.w}, perm)[0] - math.Log(0.5))
			want := -min(rho*tc.adv, min(max(rho, 0.8), 1.2)*tc.adv)
			assert.InDelta(t, want, loss, 1e-12, "loss at ρ = %v", rho)
			assert.Equal(t, tc.wantGrad, grad[0] != 0, "gradient flows at ρ = %v, A = %v: got %v", rho, tc.adv, grad[0])
		})
	}
}

func TestAdamFirstStepIsSignedLR(t *testing.T) {
	// With bias correction the first step is lr·g/|g| (up to ε).
	a := newAdam(0.1, 3)
	w := []float64{1, 1, 1}
	a.step(w, []float64{2, -0.001, 0})
	assert.InDeltaSlice(t, []float64{0.9, 1.1, 1}, w, 1e-6, "first Adam step")
}
