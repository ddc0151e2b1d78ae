package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/flexrec/flexrec/rl"
)

// rlUsage is the help of each method switch, shared by every command that
// sets the switches (reward, rollout, testbed, and run over its job file).
var rlUsage = map[string]string{
	"item-reward":    "item reward: causal-swap, independent, noncausal-swap or rank-level",
	"level":          "advantage level: item (FlexRec) or sequence (GRPO)",
	"normalize":      "item reward normalisation across the group: position (per position) or pooled",
	"uncertainty":    "rollout uncertainty u: propagated (Σ (d_p/IDCG)² σ²), sum (Σ σ² within the cutoff) or none",
	"scaling":        "scales c = 1/(u+eps): mean (renormalised to mean 1), clamp (then clamped) or none",
	"other-tokens":   "tokens outside item spans get: sequence (the sequence advantage) or zero",
	"repaired-tail":  "repaired items: counted, excluded (from the list reward and the swaps) or zero (reward 0 on any repair, Rank-GRPO style)",
	"delta":          "added to the std in every group normalisation, > 0",
	"eps":            "eps of c = 1/(u+eps), > 0",
	"clamp-min":      "lower bound of the scales under --scaling clamp",
	"clamp-max":      "upper bound of the scales under --scaling clamp",
	"format-penalty": "list reward penalty per repaired share of positions, >= 0",
	"per-item":       "scale each item advantage by its own reward variance instead of the rollout's",
	"cutoff":         "NDCG cutoff of the rewards (0: the whole list)",
}

// rlFlags are the method switches of rl.Config (method.md §3–5) as flags,
// declared once for every command that computes rewards or advantages:
// `flexrec reward` and `flexrec testbed` use them today; `flexrec run` and
// `flexrec rollout` can reuse them (addFlags with a prefix, then config).
// Their defaults are rl.DefaultConfig's.
type rlFlags struct {
	itemReward, level, normalize string
	uncertainty, scaling         string
	otherTokens, repairedTail    string
	cutoff                       int
	delta, eps                   float64
	clampMin, clampMax           float64
	perItem                      bool
	formatPenalty                float64
}

// addFlags declares the switches on f, each name prefixed with prefix
// (e.g. "" or "rl-"); skip names switches the command sets otherwise.
func (o *rlFlags) addFlags(f *pflag.FlagSet, prefix string, skip ...string) {
	d := rl.DefaultConfig()
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	str := func(p *string, name, def, usage string) {
		*p = def
		if !skipped[name] {
			f.StringVar(p, prefix+name, def, usage)
		}
	}
	num := func(p *float64, name string, def float64, usage string) {
		*p = def
		if !skipped[name] {
			f.Float64Var(p, prefix+name, def, usage)
		}
	}
	str(&o.itemReward, "item-reward", string(d.ItemReward), rlUsage["item-reward"])
	str(&o.level, "level", d.Level, rlUsage["level"])
	str(&o.normalize, "normalize", d.Normalize, rlUsage["normalize"])
	str(&o.uncertainty, "uncertainty", string(d.Uncertainty), rlUsage["uncertainty"])
	str(&o.scaling, "scaling", string(d.Scaling), rlUsage["scaling"])
	str(&o.otherTokens, "other-tokens", d.OtherTokens, rlUsage["other-tokens"])
	str(&o.repairedTail, "repaired-tail", string(d.RepairedTail), rlUsage["repaired-tail"])
	num(&o.delta, "delta", d.Delta, rlUsage["delta"])
	num(&o.eps, "eps", d.Eps, rlUsage["eps"])
	num(&o.clampMin, "clamp-min", d.ClampMin, rlUsage["clamp-min"])
	num(&o.clampMax, "clamp-max", d.ClampMax, rlUsage["clamp-max"])
	num(&o.formatPenalty, "format-penalty", d.FormatPenalty, rlUsage["format-penalty"])
	if !skipped["per-item"] {
		f.BoolVar(&o.perItem, prefix+"per-item", d.PerItem, rlUsage["per-item"])
	}
	if !skipped["cutoff"] {
		f.IntVar(&o.cutoff, prefix+"cutoff", d.Cutoff, rlUsage["cutoff"])
	}
}

// config turns the flags into an rl.Config, naming the first bad flag in a
// usage error.
func (o *rlFlags) config(prefix string) (rl.Config, error) {
	c := rl.DefaultConfig()
	c.Cutoff, c.Delta, c.Eps, c.ClampMin, c.ClampMax = o.cutoff, o.delta, o.eps, o.clampMin, o.clampMax
	c.PerItem, c.FormatPenalty = o.perItem, o.formatPenalty
	var err error
	bad := func(name string, err error) error { return usagef("--%s%s: %v", prefix, name, err) }
	if c.ItemReward, err = rl.ParseItemReward(o.itemReward); err != nil {
		return c, bad("item-reward", err)
	}
	if name, err := c.SetSwitches(rl.SwitchNames{Level: o.level, Normalize: o.normalize, Uncertainty: o.uncertainty,
		Scaling: o.scaling, OtherTokens: o.otherTokens, RepairedTail: o.repairedTail}); err != nil {
		return c, bad(name, err)
	}
	if err := c.Validate(); err != nil {
		return c, usagef("%v", fmt.Errorf("rl switches: %w", err))
	}
	return c, nil
}
