package rl

import (
	"fmt"
	"math"
	"slices"
)

// Scaling names how the raw confidences 1/(u_i + eps) become the scales
// c_i that multiply rollout i's advantages (method.md §4). The zero value
// "" means MeanOne.
type Scaling string

const (
	// MeanOne (the default) divides the raw confidences by their mean over
	// the group, so the scales average 1 and a fully observed group (every
	// u = 0) is left unscaled rather than multiplied by 1/eps.
	MeanOne Scaling = "mean"
	// Clamp is MeanOne followed by clamping each scale to [ClampMin,
	// ClampMax], so that one near-certain rollout cannot dominate.
	Clamp Scaling = "clamp"
	// Raw keeps c_i = 1/(u_i + eps) as is (ablation only: it rescales the
	// whole group's advantages by up to 1/eps).
	Raw Scaling = "none"
)

// ScalesInto writes the uncertainty scales of a group into dst[:len(u)] and
// returns it (grown only when cap(dst) < len(u)):
//
//	c_i = 1/(u_i + eps), then by mode: MeanOne c_i / mean_j c_j;
//	Clamp min(max(c_i / mean_j c_j, lo), hi); Raw c_i.
//
// u_i >= 0 and eps > 0 are the caller's to ensure (eps <= 0 is treated as
// 1e-12 so that c stays finite). Equal u give c_i = 1 under MeanOne and
// Clamp. An unknown mode behaves as MeanOne. O(G), no allocation.
func ScalesInto(dst, u []float64, eps float64, mode Scaling, lo, hi float64) []float64 {
	dst = slices.Grow(dst[:0], len(u))[:len(u)]
	if eps <= 0 {
		eps = 1e-12
	}
	var sum float64
	for i, x := range u {
		dst[i] = 1 / (math.Max(x, 0) + eps)
		sum += dst[i]
	}
	if mode == Raw || len(u) == 0 {
		return dst
	}
	mean := sum / float64(len(u))
	for i := range dst {
		dst[i] /= mean
		if mode == Clamp {
			dst[i] = min(max(dst[i], lo), hi)
		}
	}
	return dst
}

// GRPOInto writes the group-normalised advantages of rewards into
// dst[:len(rewards)] and returns it (grown only when cap(dst) is short):
//
//	A_i = (R_i − mean R) / (std R + delta)
//
// with std the sample standard deviation (divisor G − 1, as torch.std in
// TRL and verl). Every A_i is exactly 0 when all rewards are equal or G < 2
// (never NaN). delta > 0 keeps a tiny spread from exploding. O(G), no
// allocation.
func GRPOInto(dst, rewards []float64, delta float64) []float64 {
	dst = slices.Grow(dst[:0], len(rewards))[:len(rewards)]
	standardize(dst, rewards, nil, 0, 1, len(rewards), delta)
	return dst
}

// standardize sets dst[j] = (x[j] − mean)/(std + delta) for the n indices
// j = off, off+stride, ... whose skip[j] is false (skip nil: none skipped),
// with mean and sample std over those entries; skipped entries, and every
// entry of a set that is constant or has fewer than 2 entries, get 0.
func standardize(dst, x []float64, skip []bool, off, stride, n int, delta float64) {
	end := off + stride*n
	used := func(j int) bool { return skip == nil || !skip[j] }
	var cnt, sum float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for j := off; j < end; j += stride {
		if used(j) {
			cnt++
			sum += x[j]
			lo, hi = min(lo, x[j]), max(hi, x[j])
		}
	}
	mean, ss := sum/cnt, 0.0
	for j := off; j < end; j += stride {
		if used(j) {
			ss += (x[j] - mean) * (x[j] - mean)
		}
	}
	inv := 1 / (math.Sqrt(ss/(cnt-1)) + delta)
	for j := off; j < end; j += stride {
		dst[j] = 0
		if cnt >= 2 && lo != hi && used(j) {
			dst[j] = (x[j] - mean) * inv
		}
	}
}

// checkScaling reports an unknown scaling, uncertainty or bounds.
func checkScaling(mode Scaling, lo, hi float64) error {
	switch mode {
	case MeanOne, Raw, "":
		return nil
	case Clamp:
		if !(lo > 0 && hi >= lo) || math.IsInf(hi, 1) {
			return fmt.Errorf("rl: clamp bounds [%v, %v], want 0 < min <= max, finite", lo, hi)
		}
		return nil
	}
	return fmt.Errorf("rl: unknown scaling %q (mean, clamp, none)", mode)
}
