package testbed

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkSample draws one ranking of N = 30 candidates with its
// per-position log-probabilities.
func BenchmarkSample(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := make([]float64, 30)
	for i := range s {
		s[i] = rng.NormFloat64()
	}
	var perm []int
	var keys, lp []float64
	b.ReportAllocs()
	for b.Loop() {
		perm, keys = SampleInto(perm, keys, s, rng)
		lp = LogProbsInto(lp, s, perm)
	}
}

// BenchmarkLossGrad is one rollout's clipped loss, KL and gradient at
// N = 30 candidates and the default 18 weights (two needs).
func BenchmarkLossGrad(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	x, w, perm, o := randomObjective(rng, 30, Dim(2), 0.2, 0.01)
	s := LogitsInto(nil, w, x)
	grad := make([]float64, len(w))
	var wk work
	b.ReportAllocs()
	for b.Loop() {
		wk.lossGrad(grad, x, s, perm, o)
	}
}

// BenchmarkUpdate is one training update at the default batch (16
// episodes × 8 rollouts, 2 epochs) on the synthetic problem (N = 10).
func BenchmarkUpdate(b *testing.B) {
	p := syntheticProblem(b, 40, 2)
	est, _ := LookupEstimator(EstCausal)
	tr, err := newTrainer(p, ModeDense, est, 1, DefaultTrainConfig(), measures)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tr.collect(); err != nil {
			b.Fatal(err)
		}
		tr.step()
		tr.step()
	}
}

// BenchmarkARSampleAndLossGrad draws one ranking of N = 30 candidates from
// the autoregressive policy and computes its loss, KL, entropy and
// gradient (18 item weights and the prefix weights).
func BenchmarkARSampleAndLossGrad(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	c := randomAR(rng, 30, Dim(2), 0.2, 0.01, 0.005)
	pol := &arPolicy{d: Dim(2)}
	pol.episode(c.e, c.e.x, c.w, c.ref)
	grad := make([]float64, len(c.w))
	var r rollout
	b.ReportAllocs()
	for b.Loop() {
		pol.sample(&r, rng)
		c.o.old = r.old
		pol.lossGrad(grad, &r, &c.o)
	}
}
