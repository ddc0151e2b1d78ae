package critic

import (
	"math"
	"slices"

	"github.com/flexrec/flexrec/mf"
)

// KNN is a neighbourhood critic on top of a biased baseline
// b_ui = μ + b_u + b_i. With residuals z = r − b, user-KNN (rows = users)
// predicts for (u, i) from the k users v who rated i most similar to u,
// item-KNN (rows = items) from the k items j rated by u most similar to i.
// The similarity of two rows is the cosine of their residuals over their
// co-rated columns, shrunk by n/(n + Shrink); only positive similarities
// count. With weights s_v, prior weight λ = Prior and prior variance
// ρ = mean z² over the training pairs:
//
//	ẑ = Σ s_v z_v / (Σ s_v + λ),  mean = clip(b_ui + ẑ),
//	raw = (Σ s_v (z_v − ẑ)² + λ ρ) / (Σ s_v + λ),  variance = Scale·raw + Noise,
//
// so a pair with no neighbours gets the baseline and variance Scale·ρ +
// Noise. It is immutable and safe for concurrent use.
type KNN struct {
	kind       string
	cfg        Config
	vm         VarianceModel
	data       []mf.Rating // kept for Save
	mean       float64
	lo, hi     float64
	prior      float64
	users      map[string]int
	items      map[string]int
	ub, ib     []float64
	rows, cols [][]entry // rows[r]: (col, z) sorted by col; cols[c]: (row, z)
}

type entry struct {
	idx int
	z   float64
}

// newKNN indexes data and fits the baseline (10 alternating passes).
// Cost O(n log n).
func newKNN(data []mf.Rating, cfg Config, vm VarianceModel) *KNN {
	k := &KNN{kind: cfg.Kind, cfg: cfg, vm: vm, data: data,
		users: map[string]int{}, items: map[string]int{}}
	k.lo, k.hi = valueRange(data)
	us, is := make([]int, len(data)), make([]int, len(data))
	for n, r := range data {
		us[n], is[n] = addID(k.users, r.User), addID(k.items, r.Item)
		k.mean += r.Value
	}
	k.mean /= float64(len(data))
	k.ub, k.ib = make([]float64, len(k.users)), make([]float64, len(k.items))
	for range 10 {
		k.fitBias(k.ub, us, is, k.ib, data)
		k.fitBias(k.ib, is, us, k.ub, data)
	}
	rowOf, colOf, nRows, nCols := us, is, len(k.users), len(k.items)
	if cfg.Kind == KindItemKNN {
		rowOf, colOf, nRows, nCols = is, us, len(k.items), len(k.users)
	}
	k.rows, k.cols = make([][]entry, nRows), make([][]entry, nCols)
	for n, r := range data {
		z := r.Value - k.mean - k.ub[us[n]] - k.ib[is[n]]
		k.prior += z * z
		k.rows[rowOf[n]] = append(k.rows[rowOf[n]], entry{colOf[n], z})
		k.cols[colOf[n]] = append(k.cols[colOf[n]], entry{rowOf[n], z})
	}
	k.prior /= float64(len(data))
	for _, row := range k.rows {
		slices.SortStableFunc(row, func(a, b entry) int { return a.idx - b.idx })
	}
	return k
}

func addID(m map[string]int, id string) int {
	if i, ok := m[id]; ok {
		return i
	}
	m[id] = len(m)
	return len(m) - 1
}

// fitBias sets bias[a] = Σ (r − μ − other[b]) / (n_a + BiasReg).
func (k *KNN) fitBias(bias []float64, own, oth []int, other []float64, data []mf.Rating) {
	cnt := make([]float64, len(bias))
	clear(bias)
	for n, r := range data {
		bias[own[n]] += r.Value - k.mean - other[oth[n]]
		cnt[own[n]]++
	}
	for a := range bias {
		bias[a] /= cnt[a] + k.cfg.BiasReg
	}
}

// Kind returns KindUserKNN or KindItemKNN.
func (k *KNN) Kind() string { return k.kind }

// Variance returns the fitted variance model.
func (k *KNN) Variance() VarianceModel { return k.vm }

// Predict returns the KNN estimate and its calibrated variance. Cost: the
// candidate neighbours' row merges, O(Σ_v (|row u| + |row v|)) plus a sort.
func (k *KNN) Predict(user, item string) (float64, float64) {
	m, raw := k.predictRaw(user, item)
	return m, k.vm.Of(raw)
}

func (k *KNN) predictRaw(user, item string) (float64, float64) {
	u, uok := k.users[user]
	i, iok := k.items[item]
	base := k.mean
	if uok {
		base += k.ub[u]
	}
	if iok {
		base += k.ib[i]
	}
	var nb []entry // (neighbour's z, similarity) as (idx unused, z)
	var sims []float64
	if uok && iok {
		row, col := u, i
		if k.kind == KindItemKNN {
			row, col = i, u
		}
		nb, sims = k.neighbours(row, col)
	}
	lam := k.cfg.Prior
	var sw, swz float64
	for n, e := range nb {
		sw += sims[n]
		swz += sims[n] * e.z
	}
	zhat := swz / (sw + lam)
	var spread float64
	for n, e := range nb {
		spread += sims[n] * (e.z - zhat) * (e.z - zhat)
	}
	return min(max(base+zhat, k.lo), k.hi), (spread + lam*k.prior) / (sw + lam)
}

// neighbours returns the up to Neighbours rows with a value in col and a
// positive similarity to row, most similar first, with their similarities.
func (k *KNN) neighbours(row, col int) ([]entry, []float64) {
	type cand struct {
		e   entry
		sim float64
	}
	var cs []cand
	for _, e := range k.cols[col] {
		if e.idx == row {
			continue
		}
		if s := k.similarity(k.rows[row], k.rows[e.idx]); s > 0 {
			cs = append(cs, cand{e, s})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.sim != b.sim {
			if a.sim > b.sim {
				return -1
			}
			return 1
		}
		return a.e.idx - b.e.idx
	})
	cs = cs[:min(len(cs), k.cfg.Neighbours)]
	nb, sims := make([]entry, len(cs)), make([]float64, len(cs))
	for n, c := range cs {
		nb[n], sims[n] = c.e, c.sim
	}
	return nb, sims
}

// similarity is the shrunk cosine of two sorted rows over co-rated columns.
func (k *KNN) similarity(a, b []entry) float64 {
	var ab, aa, bb, n float64
	for x, y := 0, 0; x < len(a) && y < len(b); {
		switch {
		case a[x].idx < b[y].idx:
			x++
		case a[x].idx > b[y].idx:
			y++
		default:
			ab += a[x].z * b[y].z
			aa += a[x].z * a[x].z
			bb += b[y].z * b[y].z
			n++
			x++
			y++
		}
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb) * n / (n + k.cfg.Shrink)
}
