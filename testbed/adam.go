package testbed

import "math"

// adam is the Adam optimiser (Kingma & Ba) with the usual β1 = 0.9,
// β2 = 0.999 and ε = 1e-8:
//
//	m ← β1 m + (1−β1) g,  v ← β2 v + (1−β2) g²,
//	w ← w − lr · m̂ / (√v̂ + ε),  m̂ = m/(1−β1^t), v̂ = v/(1−β2^t).
type adam struct {
	lr   float64
	m, v []float64
	t    int
}

func newAdam(lr float64, d int) *adam {
	return &adam{lr: lr, m: make([]float64, d), v: make([]float64, d)}
}

// step moves w against the gradient g.
func (a *adam) step(w, g []float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	a.t++
	c1, c2 := 1-math.Pow(b1, float64(a.t)), 1-math.Pow(b2, float64(a.t))
	for k := range w {
		a.m[k] = b1*a.m[k] + (1-b1)*g[k]
		a.v[k] = b2*a.v[k] + (1-b2)*g[k]*g[k]
		w[k] -= a.lr * (a.m[k] / c1) / (math.Sqrt(a.v[k]/c2) + eps)
	}
}
