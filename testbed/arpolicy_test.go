package testbed

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// arCase is a random autoregressive problem: an episode of n candidates
// with d item features and random categories, weights, reference weights,
// a sampled rollout and an objective.
type arCase struct {
	e      *episode
	w, ref []float64
	r      rollout
	o      objective
}

func randomAR(rng *rand.Rand, n, d int, clip, kl, ent float64) *arCase {
	e := &episode{n: n, x: make([]float64, n*d), cats: make([][]int, n), ncat: 4}
	for k := range e.x {
		e.x[k] = rng.NormFloat64()
	}
	for j := range e.cats {
		for c := range 4 {
			if rng.Float64() < 0.4 {
				e.cats[j] = append(e.cats[j], c)
			}
		}
	}
	c := &arCase{e: e, w: make([]float64, d+NumPrefix), ref: make([]float64, d+NumPrefix)}
	for k := range c.w {
		c.w[k], c.ref[k] = rng.NormFloat64(), rng.NormFloat64()
	}
	old := slices.Clone(c.w)
	for k := range old {
		old[k] += 0.3 * rng.NormFloat64()
	}
	pol := &arPolicy{d: d}
	pol.episode(e, e.x, old, c.ref)
	pol.sample(&c.r, rng)
	c.o = objective{clip: clip, kl: kl, ent: ent, invT: 1 / float64(n-1), old: c.r.old, adv: make([]float64, n)}
	for p := range c.o.adv {
		c.o.adv[p] = rng.NormFloat64()
	}
	return c
}

func (c *arCase) loss(w []float64) (float64, []float64) {
	pol := &arPolicy{d: len(w) - NumPrefix}
	pol.episode(c.e, c.e.x, w, c.ref)
	grad := make([]float64, len(w))
	return pol.lossGrad(grad, &c.r, &c.o), grad
}

func TestARLossGradientMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, tc := range []struct {
		name          string
		n, d          int
		clip, kl, ent float64
	}{
		{"surrogate only, wide clip", 7, 4, 0.9, 0, 0},
		{"surrogate only, tight clip", 7, 4, 0.05, 0, 0},
		{"KL and entropy", 6, 3, 0.2, 0.7, 0.3},
		{"all terms, N = 30", 30, 18, 0.2, 0.01, 0.005},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for trial := range 4 {
				c := randomAR(rng, tc.n, tc.d, tc.clip, tc.kl, tc.ent)
				_, grad := c.loss(c.w)
				const h = 1e-6
				for k := range c.w {
					wp, wm := slices.Clone(c.w), slices.Clone(c.w)
					wp[k] += h
					wm[k] -= h
					lp, _ := c.loss(wp)
					lm, _ := c.loss(wm)
					fd := (lp - lm) / (2 * h)
					assert.InDelta(t, fd, grad[k], 1e-6*(1+math.Abs(fd)), "trial %d: ∂L/∂θ_%d: closed form %v, finite difference %v", trial, k, grad[k], fd)
				}
			}
		})
	}
}

// arLogProb returns log π(perm) under the policy by explicit softmaxes,
// recomputing the prefix features from their definitions.
func arLogProb(e *episode, w []float64, d int, shown, perm []int) float64 {
	n := e.n
	used, placed := make([]bool, n), map[int]bool{}
	var lp float64
	prev := -1
	for _, y := range perm {
		logit := func(j int) float64 {
			z := [NumPrefix]float64{}
			z[PrefEarly] = 1 - float64(shown[j])/float64(n-1)
			if shown[j] == prev+1 {
				z[PrefNext] = 1
			}
			if len(e.cats[j]) > 0 {
				k := 0
				for _, c := range e.cats[j] {
					if placed[c] {
						k++
					}
				}
				z[PrefCategory] = float64(k) / float64(len(e.cats[j]))
			}
			return dot(w[:d], e.x[j*d:(j+1)*d]) + dot(w[d:], z[:])
		}
		var zsum float64
		for j := range n {
			if !used[j] {
				zsum += math.Exp(logit(j))
			}
		}
		lp += logit(y) - math.Log(zsum)
		used[y] = true
		for _, c := range e.cats[y] {
			placed[c] = true
		}
		prev = shown[y]
	}
	return lp
}

func TestARDistributionExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for trial := range 3 {
		c := randomAR(rng, 5, 3, 0.2, 0, 0)
		var total float64
		for _, perm := range permutations(5) {
			total += math.Exp(arLogProb(c.e, c.w, 3, c.r.shown, perm))
		}
		assert.InDelta(t, 1, total, 1e-12, "trial %d: probabilities of all 120 rankings sum to 1", trial)
		// The sampler's recorded log-probabilities are the explicit ones.
		pol := &arPolicy{d: 3}
		pol.episode(c.e, c.e.x, c.w, c.ref)
		var r rollout
		pol.sample(&r, rng)
		assert.InDelta(t, arLogProb(c.e, c.w, 3, r.shown, r.perm), sum(r.old), 1e-12, "trial %d: Σ ℓ_p of a sample", trial)
	}
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

func TestARSampleFrequencies(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	c := randomAR(rng, 4, 2, 0.2, 0, 0)
	shown := slices.Clone(c.r.shown)
	pol := &arPolicy{d: 2}
	pol.episode(c.e, c.e.x, c.w, c.ref)
	// One fixed prompt order, so that the rankings have one distribution.
	counts := map[[4]int]int{}
	const draws = 100000
	for range draws {
		var r rollout
		pol.sampleWithOrder(&r, shown, rng)
		counts[[4]int(r.perm)]++
	}
	for _, perm := range permutations(4) {
		p := math.Exp(arLogProb(c.e, c.w, 2, shown, perm))
		se := math.Sqrt(p * (1 - p) / draws)
		assert.InDelta(t, p, float64(counts[[4]int(perm)])/draws, 5*se+1e-9, "frequency of %v", perm)
	}
}

func TestARGreedyAndInit(t *testing.T) {
	p := syntheticProblem(t, 10, 10)
	tc := DefaultTrainConfig()
	tc.Policy = PolicyAutoregressive
	w := p.PolicyWeights(tc)
	require.Len(t, w, p.Dim()+NumPrefix)
	assert.Equal(t, tc.AR.Next, w[p.Dim()+PrefNext], "prompt-order copying weight")
	// With only the copying bias, greedy decoding reads the prompt order.
	clear(w)
	w[p.Dim()+PrefNext] = 5
	e := p.heldOut[0]
	perm := newPolicy(PolicyAutoregressive, p.Dim()).greedy(nil, e, e.x, w, e.shown)
	for k, j := range perm {
		assert.Equal(t, k, e.shown[j], "position %d holds the item shown at %d", k, k)
	}
}

// TestEntropyExact checks the entropy term of both policies' losses
// against explicit softmaxes: with advantages 0, β = 0 and α = 1 the loss
// is −(1/T) Σ_p H_p.
func TestEntropyExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	entropy := func(logits []float64) float64 {
		var z, h float64
		for _, u := range logits {
			z += math.Exp(u)
		}
		for _, u := range logits {
			p := math.Exp(u) / z
			h -= p * math.Log(p)
		}
		return h
	}
	t.Run("linear", func(t *testing.T) {
		x, w, perm, o := randomObjective(rng, 7, 3, 0.2, 0)
		clear(o.adv)
		o.ent = 1
		s := LogitsInto(nil, w, x)
		var want float64
		for p := range perm {
			left := make([]float64, 0, len(perm))
			for _, j := range perm[p:] {
				left = append(left, s[j])
			}
			want -= entropy(left) * o.invT
		}
		var wk work
		assert.InDelta(t, want, wk.lossGrad(make([]float64, len(w)), x, s, perm, o), 1e-12, "−(1/T) Σ H_p")
	})
	t.Run("autoregressive", func(t *testing.T) {
		c := randomAR(rng, 6, 3, 0.2, 0, 1)
		clear(c.o.adv)
		// Replay the rollout with explicit logits from arLogProb's
		// definitions: the entropy at p is that of the softmax over R_p.
		var want float64
		used := make([]bool, 6)
		for p, y := range c.r.perm {
			var left []float64
			for j := range 6 {
				if !used[j] {
					prefix := c.r.perm[:p]
					left = append(left, arLogit(c.e, c.w, 3, c.r.shown, prefix, j))
				}
			}
			want -= entropy(left) * c.o.invT
			used[y] = true
		}
		got, _ := c.loss(c.w)
		assert.InDelta(t, want, got, 1e-12, "−(1/T) Σ H_p")
	})
}

// arLogit is u_j after the placed prefix, from the definitions.
func arLogit(e *episode, w []float64, d int, shown, prefix []int, j int) float64 {
	n := e.n
	var z [NumPrefix]float64
	z[PrefEarly] = 1 - float64(shown[j])/float64(n-1)
	prev := -1
	placed := map[int]bool{}
	for _, y := range prefix {
		prev = shown[y]
		for _, c := range e.cats[y] {
			placed[c] = true
		}
	}
	if shown[j] == prev+1 {
		z[PrefNext] = 1
	}
	if len(e.cats[j]) > 0 {
		k := 0
		for _, c := range e.cats[j] {
			if placed[c] {
				k++
			}
		}
		z[PrefCategory] = float64(k) / float64(len(e.cats[j]))
	}
	return dot(w[:d], e.x[j*d:(j+1)*d]) + dot(w[d:], z[:])
}
