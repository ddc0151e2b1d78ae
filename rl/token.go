package rl

import (
	"fmt"
)

// Span is the token range of the item at one position of a rollout, as
// package rank aligns it: the item's identifier occupies tokens
// [First, Last) of the completion.
type Span struct {
	// First is the index of the item's first token, >= 0.
	First int
	// Last is one past the item's last token, First <= Last <= tokens.
	Last int
	// Generated is false for an item the parser repaired: it has no
	// tokens, First and Last are ignored, and it gets no credit.
	Generated bool
}

// TokenAdvantagesInto writes the token-level advantages of one rollout
// into dst[:tokens] and returns it (grown only when cap(dst) < tokens):
// every token of position k's span gets itemAdv[k] when spans[k] is
// generated; every other token gets seqAdv under OtherSequence (the
// default) or 0 under OtherZero. spans and itemAdv are index-aligned with
// the rollout's positions.
//
// It errors (wrapping ErrGroup) when len(spans) != len(itemAdv), tokens <
// 0, or a generated span is out of [0, tokens], reversed, or overlaps the
// previous generated span (spans follow the order the model wrote them,
// which is position order). O(tokens + K), no allocation.
func TokenAdvantagesInto(dst, itemAdv []float64, seqAdv float64, spans []Span, tokens int, other string) ([]float64, error) {
	if err := checkSpans(spans, len(itemAdv), tokens); err != nil {
		return dst, err
	}
	base := seqAdv
	if other == OtherZero {
		base = 0
	}
	dst = fill(dst, tokens, base)
	for p, s := range spans {
		if s.Generated {
			for t := s.First; t < s.Last; t++ {
				dst[t] = itemAdv[p]
			}
		}
	}
	return dst, nil
}

func checkSpans(spans []Span, k, tokens int) error {
	if len(spans) != k {
		return fmt.Errorf("rl: %d spans for %d positions: %w", len(spans), k, ErrGroup)
	}
	if tokens < 0 {
		return fmt.Errorf("rl: %d tokens, want >= 0: %w", tokens, ErrGroup)
	}
	prev := 0
	for p, s := range spans {
		if !s.Generated {
			continue
		}
		if s.First < prev || s.Last < s.First || s.Last > tokens {
			return fmt.Errorf("rl: span of position %d is [%d,%d) after %d, want within [%d,%d] and not overlapping: %w",
				p+1, s.First, s.Last, prev, prev, tokens, ErrGroup)
		}
		prev = s.Last
	}
	return nil
}

// TokenAdvantagesInto writes rollout i's token advantages after Compute:
// item spans get ItemAdvantages(i) (which is the sequence advantage under
// LevelSequence), other tokens the sequence advantage or 0 per
// Config.OtherTokens. See the package function TokenAdvantagesInto for the
// checks; an i out of range wraps ErrGroup. No allocation once dst holds
// tokens entries.
func (gr *Group) TokenAdvantagesInto(dst []float64, i int, spans []Span, tokens int) ([]float64, error) {
	if i < 0 || i >= gr.g {
		return dst, fmt.Errorf("rl: rollout %d of a group of %d: %w", i, gr.g, ErrGroup)
	}
	return TokenAdvantagesInto(dst, gr.ItemAdvantages(i), gr.seq[i], spans, tokens, gr.cfg.OtherTokens)
}
