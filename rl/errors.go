package rl

import "errors"

// Sentinel errors wrapped by the validation of inputs; match them with
// errors.Is.
var (
	// ErrGains reports empty gains, or a gain or variance that is negative
	// or not finite, or variances not aligned with the gains.
	ErrGains = errors.New("rl: invalid gains")
	// ErrPermutation reports an empty permutation, one longer than the
	// gains, or an index out of range or repeated.
	ErrPermutation = errors.New("rl: invalid permutation")
	// ErrGroup reports a group whose rollouts differ in length, or per-item
	// flags or spans not aligned with a rollout.
	ErrGroup = errors.New("rl: invalid group")
)
