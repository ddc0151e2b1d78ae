package rl

import (
	"fmt"
	"slices"
	"strings"
)

// RepairedTail names how a rollout's repaired items (Rollout.Repaired:
// identifiers the parser appended because the model never wrote them) enter
// the rewards. The zero value "" means TailCounted.
type RepairedTail string

const (
	// TailCounted (the default) scores the repaired permutation as it is:
	// the appended items count in the list reward and in the swap sums of
	// the generated items before them; they themselves get no advantage.
	TailCounted RepairedTail = "counted"
	// TailExcluded scores only the generated items, compacted in the order
	// they were written, as a partial list (IDCG still over all N gains):
	// the repaired items add nothing to the list reward, are no swap
	// partner of any generated item, and get item reward 0. Package rank
	// appends repaired items at the end, so compaction keeps every
	// generated item's position.
	TailExcluded RepairedTail = "excluded"
	// TailZero gives a rollout with any repaired item list reward 0 and
	// item reward 0 at every position (before the format penalty), in the
	// style of Rank-GRPO's zero reward for an invalid output. Its generated
	// items stay in the group statistics, so their advantages are
	// (0 − mean)/std, usually negative.
	TailZero RepairedTail = "zero"
)

// RepairedTails lists the treatments, default first.
var RepairedTails = []RepairedTail{TailCounted, TailExcluded, TailZero}

// Levels lists the advantage levels, default first.
var Levels = []string{LevelItem, LevelSequence}

// Normalizations lists the item reward normalisations, default first.
var Normalizations = []string{Pooled, PerPosition}

// OtherTokenRules lists what tokens outside item spans may get, default
// first.
var OtherTokenRules = []string{OtherSequence, OtherZero}

// Uncertainties lists the rollout uncertainty kinds, default first.
var Uncertainties = []Uncertainty{Propagated, PlainSum, NoUncertainty}

// Scalings lists the scalings of the rollout confidences, default first.
var Scalings = []Scaling{MeanOne, Clamp, Raw}

// parseName returns the entry of names equal to s ("" gives names[0]), or
// an error naming what and listing the valid names.
func parseName[T ~string](what, s string, names []T) (T, error) {
	if s == "" {
		return names[0], nil
	}
	if i := slices.Index(names, T(s)); i >= 0 {
		return names[i], nil
	}
	valid := make([]string, len(names))
	for i, n := range names {
		valid[i] = string(n)
	}
	return "", fmt.Errorf("rl: unknown %s %q (%s)", what, s, strings.Join(valid, ", "))
}

// ParseLevel returns the advantage level named s: "item" (LevelItem, also
// for "") or "sequence" (LevelSequence); else an error listing them.
func ParseLevel(s string) (string, error) { return parseName("level", s, Levels) }

// ParseNormalize returns the item reward normalisation named s:
// "pooled" (Pooled, also for "") or "position" (PerPosition); else an
// error listing them.
func ParseNormalize(s string) (string, error) { return parseName("normalize", s, Normalizations) }

// ParseOtherTokens returns what tokens outside item spans get, named s:
// "sequence" (OtherSequence, also for "") or "zero" (OtherZero); else an
// error listing them.
func ParseOtherTokens(s string) (string, error) {
	return parseName("other tokens rule", s, OtherTokenRules)
}

// ParseUncertainty returns the rollout uncertainty kind named s:
// "propagated" (also for ""), "sum" or "none"; else an error listing them.
func ParseUncertainty(s string) (Uncertainty, error) {
	return parseName("uncertainty", s, Uncertainties)
}

// ParseScaling returns the scaling named s: "mean" (MeanOne, also for
// ""), "clamp" or "none" (Raw); else an error listing them.
func ParseScaling(s string) (Scaling, error) { return parseName("scaling", s, Scalings) }

// ParseRepairedTail returns the repaired-tail treatment named s:
// "counted" (also for ""), "excluded" or "zero"; else an error listing
// them.
func ParseRepairedTail(s string) (RepairedTail, error) {
	return parseName("repaired tail", s, RepairedTails)
}

// Switches is the one-line summary of c's method switches that records
// and manifests can carry, e.g.
// "item_reward=causal-swap level=item normalize=position cutoff=0 ...".
// Every field of Config appears, so two runs with equal Switches used the
// same reward and advantage arithmetic.
func (c Config) Switches() string {
	return fmt.Sprintf("item_reward=%s level=%s normalize=%s cutoff=%d delta=%g uncertainty=%s eps=%g scaling=%s clamp=[%g,%g] per_item=%t other_tokens=%s format_penalty=%g repaired_tail=%s",
		orDefault(string(c.ItemReward), string(CausalSwap)), c.Level, c.Normalize, c.Cutoff, c.Delta,
		orDefault(string(c.Uncertainty), string(Propagated)), c.Eps, orDefault(string(c.Scaling), string(MeanOne)),
		c.ClampMin, c.ClampMax, c.PerItem, c.OtherTokens, c.FormatPenalty,
		orDefault(string(c.RepairedTail), string(TailCounted)))
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// SwitchNames are the method's named switches as a user writes them
// (flags, YAML); empty means the default.
type SwitchNames struct {
	Level, Normalize, Uncertainty, Scaling, OtherTokens, RepairedTail string
}

// SetSwitches parses names into c. On error it returns the switch's
// name ("normalize", "repaired-tail", ...) for the caller to word in its
// own terms, and c holds the switches parsed before it.
func (c *Config) SetSwitches(names SwitchNames) (string, error) {
	var err error
	if c.Level, err = ParseLevel(names.Level); err != nil {
		return "level", err
	}
	if c.Normalize, err = ParseNormalize(names.Normalize); err != nil {
		return "normalize", err
	}
	if c.Uncertainty, err = ParseUncertainty(names.Uncertainty); err != nil {
		return "uncertainty", err
	}
	if c.Scaling, err = ParseScaling(names.Scaling); err != nil {
		return "scaling", err
	}
	if c.OtherTokens, err = ParseOtherTokens(names.OtherTokens); err != nil {
		return "other-tokens", err
	}
	if c.RepairedTail, err = ParseRepairedTail(names.RepairedTail); err != nil {
		return "repaired-tail", err
	}
	return "", nil
}
