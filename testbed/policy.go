package testbed

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// The policy is linear: candidate i of an episode with the n×d row-major
// feature matrix x has the logit s_i = w·x_i. A ranking y = (y_1..y_K) is
// drawn autoregressively from the Plackett–Luce model: position p picks y_p
// from the items R_p = {y_p..y_K} not yet placed with
//
//	π_p(j) = exp(s_j) / Σ_{q ∈ R_p} exp(s_q),
//
// so log π(y) = Σ_p ℓ_p with ℓ_p = s_{y_p} − log Σ_{q ∈ R_p} exp(s_q) exact,
// and, because s is linear in w,
//
//	∇_w ℓ_p = x_{y_p} − x̄_p,   x̄_p = Σ_{j ∈ R_p} π_p(j) x_j.
//
// Every function here walks the ranking backwards, so R_p grows by one
// item per step and all K positions cost O(K·d).

// LogitsInto writes s_i = w·x_i for the n = len(x)/len(w) candidates into
// dst (grown only when its capacity is short) and returns it. x is n×d
// row-major with d = len(w); no weights give no logits, and a trailing
// partial row of x is ignored.
func LogitsInto(dst, w, x []float64) []float64 {
	d := len(w)
	if d == 0 {
		return dst[:0]
	}
	n := len(x) / d
	dst = slices.Grow(dst[:0], n)[:n]
	for i := range n {
		dst[i] = dot(w, x[i*d:(i+1)*d])
	}
	return dst
}

func dot(a, b []float64) float64 {
	var s float64
	for k, v := range a {
		s += v * b[k]
	}
	return s
}

// SampleInto draws a ranking of all len(s) candidates from the
// Plackett–Luce model with logits s into perm (grown only when its
// capacity is short) and returns it. It uses the Gumbel-max trick, which
// gives exactly the autoregressive distribution: sorting s_i + G_i with G_i
// i.i.d. standard Gumbel, descending, picks each next item with
// probability π_p. keys is scratch of len(s) (grown as needed) and is
// returned for reuse. O(n log n).
func SampleInto(perm []int, keys []float64, s []float64, rng *rand.Rand) ([]int, []float64) {
	n := len(s)
	perm = slices.Grow(perm[:0], n)[:n]
	keys = slices.Grow(keys[:0], n)[:n]
	for i := range n {
		u := rng.Float64()
		for u == 0 {
			u = rng.Float64()
		}
		keys[i] = s[i] - math.Log(-math.Log(u))
		perm[i] = i
	}
	slices.SortFunc(perm, func(a, b int) int { return cmp.Compare(keys[b], keys[a]) })
	return perm, keys
}

// GreedyInto writes the mode of the Plackett–Luce model, the candidates by
// descending logit (ties by index), into perm and returns it. O(n log n).
func GreedyInto(perm []int, s []float64) []int {
	n := len(s)
	perm = slices.Grow(perm[:0], n)[:n]
	for i := range perm {
		perm[i] = i
	}
	slices.SortStableFunc(perm, func(a, b int) int { return cmp.Compare(s[b], s[a]) })
	return perm
}

// LogProbsInto writes ℓ_p = log π_p(y_p) for every position of perm under
// logits s into dst (grown only when short) and returns it; the last
// position is exactly 0. perm must hold distinct indices into s (it may be
// a prefix of a ranking: the items after it are then taken as already
// placed). Σ_p ℓ_p is the log-probability of the ranking; an empty perm
// gives an empty result. O(K).
func LogProbsInto(dst, s []float64, perm []int) []float64 {
	dst = slices.Grow(dst[:0], len(perm))[:len(perm)]
	if len(perm) == 0 {
		return dst
	}
	var acc lse
	for p := len(perm) - 1; p >= 0; p-- {
		v := s[perm[p]]
		acc.add(v)
		dst[p] = v - acc.log()
	}
	dst[len(dst)-1] = 0
	return dst
}

// lse is an online log-sum-exp: a running maximum m and z = Σ exp(v − m).
type lse struct {
	m, z float64
	any  bool
}

// add adds exp(v) and returns the weight exp(v − m) of v relative to the
// (new) maximum m, and the factor exp(m_old − m) by which sums kept
// relative to the old maximum must be rescaled (1 when m is unchanged).
func (a *lse) add(v float64) (weight, scale float64) {
	scale = 1
	if !a.any || v > a.m {
		if a.any {
			scale = math.Exp(a.m - v)
		}
		a.m, a.any = v, true
		a.z *= scale
	}
	weight = math.Exp(v - a.m)
	a.z += weight
	return weight, scale
}

// log returns log Σ exp(v).
func (a *lse) log() float64 { return a.m + math.Log(a.z) }

// objective is what the clipped loss of one rollout needs: per position,
// the advantage that credits its log-probability and the log-probability
// under the policy that sampled it; per candidate, the reference logits.
type objective struct {
	clip   float64 // ε
	kl     float64 // β
	ent    float64 // α, the entropy coefficient
	invT   float64 // 1 / the number of positions in the batch
	adv    []float64
	old    []float64
	refLog []float64 // the reference (initial) policy's logits s^ref
}

// work holds the per-rollout accumulators of lossGrad, so that the hot
// loop allocates nothing.
type work struct {
	sx, sqx, xbar []float64 // Σ a x, Σ a q x, x̄ (length d)
}

func (wk *work) reset(d int) {
	wk.sx = fill(wk.sx, d)
	wk.sqx = fill(wk.sqx, d)
	wk.xbar = fill(wk.xbar, d)
}

func fill(dst []float64, n int) []float64 {
	dst = slices.Grow(dst[:0], n)[:n]
	clear(dst)
	return dst
}

// lossGrad adds one rollout's share of the clipped surrogate loss
//
//	L = (1/T) Σ_p [ −min(ρ_p A_p, clip(ρ_p, 1−ε, 1+ε) A_p) + β KL_p − α H_p ],
//	ρ_p = exp(ℓ_p − ℓ_p^old),
//	KL_p = Σ_{j ∈ R_p} π_p(j) log(π_p(j) / π^ref_p(j)),
//	H_p = −Σ_{j ∈ R_p} π_p(j) log π_p(j),
//
// to the returned value and its gradient to grad. The gradient of the
// surrogate is −ρ_p A_p ∇ℓ_p/T where the clip is inactive and 0 where it
// binds (A > 0 and ρ > 1+ε, or A < 0 and ρ < 1−ε); the exact per-position
// KL has the gradient Cov_{π_p}(e, x) with e_j = s_j − s^ref_j, since
// KL_p = E_π[e] − (LSE_p(s) − LSE_p(s^ref)), and the entropy
// H_p = LSE_p(s) − E_π[s] has the gradient −Cov_{π_p}(s, x); both are
// accumulated as Cov_{π_p}(q, x) with q = β e + α s. x is the episode's
// n×d features, s its logits under the current w. O(K·d).
func (wk *work) lossGrad(grad, x, s []float64, perm []int, o *objective) float64 {
	d := len(grad)
	wk.reset(d)
	var cur, ref lse
	var se, ss, loss float64 // Σ a e and Σ a s, relative to cur.m
	for p := len(perm) - 1; p >= 0; p-- {
		y := perm[p]
		xy := x[y*d : (y+1)*d]
		e := s[y] - o.refLog[y]
		a, sc := cur.add(s[y])
		if sc != 1 {
			se *= sc
			ss *= sc
			scaleVec(wk.sx, sc)
			scaleVec(wk.sqx, sc)
		}
		ref.add(o.refLog[y])
		se += a * e
		ss += a * s[y]
		aq := a * (o.kl*e + o.ent*s[y])
		for k, v := range xy {
			wk.sx[k] += a * v
			wk.sqx[k] += aq * v
		}
		if p == len(perm)-1 {
			continue // the last item is forced: ℓ = 0, KL = H = 0, no gradient
		}
		inv, lz := 1/cur.z, cur.log()
		for k := range wk.xbar {
			wk.xbar[k] = wk.sx[k] * inv
		}
		loss += wk.surrogate(grad, xy, s[y]-lz, o, p)
		if o.kl > 0 || o.ent > 0 {
			ee, es := se*inv, ss*inv
			loss += o.invT * (o.kl*(ee-(lz-ref.log())) - o.ent*(lz-es))
			qbar := o.kl*ee + o.ent*es
			for k := range grad {
				grad[k] += o.invT * (wk.sqx[k]*inv - qbar*wk.xbar[k])
			}
		}
	}
	return loss
}

// surrogate adds position p's clipped term and its gradient, given the
// position's log-probability lp and x̄_p in wk.xbar.
func (wk *work) surrogate(grad, xy []float64, lp float64, o *objective, p int) float64 {
	a := o.adv[p]
	rho := math.Exp(lp - o.old[p])
	clipped := min(max(rho, 1-o.clip), 1+o.clip)
	obj := min(rho*a, clipped*a)
	if a == 0 || (a > 0 && rho > 1+o.clip) || (a < 0 && rho < 1-o.clip) {
		return -obj * o.invT
	}
	c := -rho * a * o.invT
	for k := range grad {
		grad[k] += c * (xy[k] - wk.xbar[k])
	}
	return -obj * o.invT
}

func scaleVec(v []float64, c float64) {
	for k := range v {
		v[k] *= c
	}
}
