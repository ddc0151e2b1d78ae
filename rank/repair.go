package rank

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Policy names how Repair completes a permutation the model left partial.
type Policy string

// Repair policies.
const (
	// PromptOrder appends the missing candidates in candidate (prompt)
	// order. It is Parse's default.
	PromptOrder Policy = "prompt-order"
	// ByScore appends the missing candidates by descending score; ties and
	// NaN scores (last) keep candidate order.
	ByScore Policy = "score"
	// Reject refuses any answer with missing, unknown, ambiguous or
	// duplicate ids with a *RejectError, leaving the Result unchanged.
	Reject Policy = "reject"
)

// ParsePolicy returns the policy named s, or an error wrapping
// ErrUnknownPolicy.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case PromptOrder, ByScore, Reject:
		return p, nil
	}
	return "", fmt.Errorf("%w %q (want prompt-order, score or reject)", ErrUnknownPolicy, s)
}

// Repair redoes res.Order's tail, the candidates after the NGenerated the
// model wrote, under policy. scores, used only by ByScore, are index-aligned
// with res.Cands; a length mismatch is an error wrapping ErrScores. Reject
// returns a *RejectError when the answer needed any repair and changes
// nothing. The generated prefix is never reordered, and after a nil error
// Order is a permutation of the candidates. Repair does not allocate.
func Repair(res *Result, policy Policy, scores []float64) error {
	switch policy {
	case PromptOrder:
	case ByScore:
		if len(scores) != len(res.Cands) {
			return fmt.Errorf("%w: %d scores for %d candidates", ErrScores, len(scores), len(res.Cands))
		}
	case Reject:
		e := &RejectError{Missing: len(res.Missing), Unknown: len(res.Unknown),
			Ambiguous: len(res.Ambiguous), Duplicates: len(res.Duplicates)}
		if *e != (RejectError{}) {
			return e
		}
	default:
		return fmt.Errorf("%w %q", ErrUnknownPolicy, policy)
	}
	if len(res.Order) != len(res.Cands) || res.NGenerated > len(res.Order) {
		return fmt.Errorf("rank: repair: order holds %d of %d candidates; the result was not made by Parse", len(res.Order), len(res.Cands))
	}
	tail := res.Order[res.NGenerated:]
	slices.Sort(tail)
	if policy == ByScore {
		slices.SortStableFunc(tail, func(a, b int) int { return byScore(scores[a], scores[b]) })
	}
	res.Policy = policy
	return nil
}

// byScore orders descending, NaN last.
func byScore(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an || bn:
		return cmp.Compare(boolInt(an), boolInt(bn))
	}
	return cmp.Compare(b, a)
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}
