package rl

import (
	"math/rand/v2"
	"testing"
)

// benchEpisode returns N = 30 rating-like gains, variances for 90% of the
// candidates, and G random permutations.
func benchEpisode(g int) (gains, vars []float64, perms [][]int) {
	rng := rand.New(rand.NewPCG(1, 2))
	gains, vars = make([]float64, 30), make([]float64, 30)
	for i := range gains {
		gains[i] = 0.5 * float64(1+rng.IntN(10))
		if rng.IntN(10) > 0 {
			vars[i] = 0.8
		}
	}
	for range g {
		perms = append(perms, rng.Perm(30))
	}
	return gains, vars, perms
}

// BenchmarkCausalSwap is the causal swap item rewards of one K = 30 rollout
// through a reset Scorer, validation included.
func BenchmarkCausalSwap(b *testing.B) {
	gains, _, perms := benchEpisode(1)
	sc, err := NewScorer(gains, 0)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float64, 30)
	b.ReportAllocs()
	for b.Loop() {
		dst, err = sc.ItemRewardsInto(dst, perms[0], CausalSwap)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// sink keeps the bare loops from being optimised away.
var sink float64

// BenchmarkBareArithmetic is the bare arithmetic of the swap sums for
// K = 30: the 435 products (g_k − g_j)(d_k − d_j), k < j, over gains and
// discounts already laid out by position, with no validation, indexing
// through the permutation, or division.
func BenchmarkBareArithmetic(b *testing.B) {
	gains, _, perms := benchEpisode(1)
	g, d := make([]float64, 30), make([]float64, 30)
	for p, i := range perms[0] {
		g[p], d[p] = gains[i], Discount(p+1, 0)
	}
	out := make([]float64, 30)
	b.ReportAllocs()
	for b.Loop() {
		for k := range g {
			var s float64
			gk, dk := g[k], d[k]
			for j := k + 1; j < len(g); j++ {
				s += (gk - g[j]) * (dk - d[j])
			}
			out[k] = s
		}
	}
	sink = out[0]
}

// BenchmarkBareClosedForm is the bare arithmetic of the O(K) closed form
// for K = 30 (one backward pass of suffix sums over gains and discounts
// laid out by position): the floor for BenchmarkCausalSwap, which adds
// the permutation check and the indexing through the permutation.
func BenchmarkBareClosedForm(b *testing.B) {
	gains, _, perms := benchEpisode(1)
	g, d := make([]float64, 30), make([]float64, 30)
	for p, i := range perms[0] {
		g[p], d[p] = gains[i], Discount(p+1, 0)
	}
	out := make([]float64, 30)
	b.ReportAllocs()
	for b.Loop() {
		var sd, sg, sgd float64
		for p := len(g) - 1; p >= 0; p-- {
			m := float64(len(g) - 1 - p)
			out[p] = (g[p]*(m*d[p]-sd) - d[p]*sg + sgd) / max(m, 1)
			sd += d[p]
			sg += g[p]
			sgd += g[p] * d[p]
		}
	}
	sink = out[0]
}

// BenchmarkBruteForceSwap is the naive causal swap by actual swapping
// (O(K²) swaps, O(K³) in all) through the test oracle, for scale.
func BenchmarkBruteForceSwap(b *testing.B) {
	gains, _, perms := benchEpisode(1)
	b.ReportAllocs()
	for b.Loop() {
		sink = bruteItem(gains, perms[0], 0, CausalSwap, -1)[0]
	}
}

// BenchmarkGroup is one whole group of G = 8 rollouts of K = 30 with 90% of
// gains predicted: Compute (IDCG, list rewards, causal swap, propagated
// uncertainty, scales, sequence and per-position item advantages) plus
// the token advantages of every rollout (200 tokens each).
func BenchmarkGroup(b *testing.B) {
	gains, vars, perms := benchEpisode(8)
	rollouts := make([]Rollout, len(perms))
	for i, p := range perms {
		rollouts[i] = Rollout{Permutation: p}
	}
	spans := make([]Span, 30)
	for p := range spans {
		spans[p] = Span{First: 20 + 6*p, Last: 22 + 6*p, Generated: true}
	}
	gr, err := NewGroup(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	tok := make([]float64, 200)
	b.ReportAllocs()
	for b.Loop() {
		if err := gr.Compute(gains, vars, rollouts); err != nil {
			b.Fatal(err)
		}
		for i := range rollouts {
			if tok, err = gr.TokenAdvantagesInto(tok, i, spans, 200); err != nil {
				b.Fatal(err)
			}
		}
	}
}
