package eval

import (
	"fmt"
	"strings"
)

// Meta describes the run behind a report, as far as its caller knows it:
// Evaluate leaves it zero and the caller fills it before writing. Every
// field is optional; a zero field is left out of the reports.
type Meta struct {
	// Command is what produced the report, e.g. "flexrec eval".
	Command string `json:"command,omitempty"`
	// Dataset names the dataset or episodes file the episodes came from.
	Dataset string `json:"dataset,omitempty"`
	// Needs are the need ids asked for; empty means the needs of the rows.
	Needs []string `json:"needs,omitempty"`
	// Date is when the report was made, RFC 3339 in UTC.
	Date string `json:"date,omitempty"`
	// Version is the flexrec version that made the report: the module
	// version and VCS revision of the build, when it recorded them.
	Version string `json:"flexrec_version,omitempty"`
	// Rollouts summarises the rollouts of a `flexrec run` job; nil when
	// there were none.
	Rollouts *RolloutMeta `json:"rollouts,omitempty"`
}

// RolloutMeta summarises the sampled rollouts of a job, for the report
// header. A nil pointer field means the caller does not know it.
type RolloutMeta struct {
	// Backend and Model name the policy that wrote the rollouts.
	Backend string `json:"backend,omitempty"`
	// Model is the model name on the backend.
	Model string `json:"model,omitempty"`
	// Episodes and Rollouts count the episodes and records sampled.
	Episodes int `json:"episodes"`
	// Rollouts is the number of rollout records.
	Rollouts int `json:"rollouts"`
	// InvalidRate is the share of rollouts whose answer broke the output
	// contract (and so needed repair), in [0, 1].
	InvalidRate float64 `json:"invalid_rate"`
	// RepairRate is the share of rollouts where repair placed candidates
	// the answer left out, in [0, 1]; nil when not counted.
	RepairRate *float64 `json:"repair_rate,omitempty"`
	// PromptTokens and CompletionTokens total the rollouts' usage.
	PromptTokens int `json:"prompt_tokens"`
	// CompletionTokens totals the generated tokens.
	CompletionTokens int `json:"completion_tokens"`
	// Cost is what the rollouts' requests cost at the configured prices
	// (cache hits are free); nil when no price was given.
	Cost *float64 `json:"cost,omitempty"`
}

// LLMInfo describes one LLM ranker of a report: which model on which
// backend, and what its answers cost over all the report's episodes.
// Evaluate fills it for every ranker made by NewLLM, in ranker order.
type LLMInfo struct {
	// Ranker is the ranker's report name, e.g. "llm:gpt-4o-mini".
	Ranker string `json:"ranker"`
	// Backend is LLMConfig.BackendKind ("" when unknown).
	Backend string `json:"backend,omitempty"`
	// Model is the model name on the backend.
	Model string `json:"model"`
	// Temperature is the sampling temperature.
	Temperature float64 `json:"temperature"`
	// MaxTokens is the completion cap; 0 is the server's default.
	MaxTokens int `json:"max_tokens,omitempty"`
	// Episodes is the number of episodes it ranked, over every need.
	Episodes int `json:"episodes"`
	// InvalidRate and RepairRate are shares of episodes, over every need
	// (see LLMStats).
	InvalidRate float64 `json:"invalid_rate"`
	// RepairRate is the share of episodes where repair placed candidates.
	RepairRate float64 `json:"repair_rate"`
	// PromptTokens and CompletionTokens total its usage.
	PromptTokens int `json:"prompt_tokens"`
	// CompletionTokens totals the generated tokens.
	CompletionTokens int `json:"completion_tokens"`
	// Cost is what its requests cost at the caller's prices; nil when the
	// caller has no prices (see Report.SetCost).
	Cost *float64 `json:"cost,omitempty"`
}

// Identical records rankers whose rows coincide: every mean the reports
// print is the same, because their rankings are the same on every episode
// or differ only where no printed measure looks.
type Identical struct {
	// Rankers are the names of the coinciding rankers (two or more), in
	// report order.
	Rankers []string `json:"rankers"`
	// Episodes is the number of episodes compared: all of the report's.
	Episodes int `json:"episodes"`
	// Same is the number of episodes on which all of them rank every
	// candidate alike; Same == Episodes means identical rankings.
	Same int `json:"same_rankings"`
	// FirstDiff is the first position (1-based) at which any two of them
	// rank differently on any episode; 0 when Same == Episodes.
	FirstDiff int `json:"first_difference,omitempty"`
	// Why says what the rankers rank by, as far as eval knows it.
	Why string `json:"why"`
}

// Note returns the sentence the reports print for i.
func (i Identical) Note() string {
	names := strings.Join(i.Rankers, ", ")
	if n := len(i.Rankers); n > 1 {
		names = strings.Join(i.Rankers[:n-1], ", ") + " and " + i.Rankers[n-1]
	}
	if i.Same == i.Episodes {
		return fmt.Sprintf("%s: identical rankings on all %d episodes: %s.", names, i.Episodes, i.Why)
	}
	return fmt.Sprintf("%s: the same numbers at the printed precision; identical rankings on %d of %d episodes, the others first differ at position %d: %s.",
		names, i.Same, i.Episodes, i.FirstDiff, i.Why)
}

// SetCost records the cost of the named LLM ranker's requests in the
// report's LLMs; it reports whether the ranker is there.
func (r *Report) SetCost(ranker string, cost float64) bool {
	for i := range r.LLMs {
		if r.LLMs[i].Ranker == ranker {
			r.LLMs[i].Cost = &cost
			return true
		}
	}
	return false
}

// llmInfos returns the LLMInfo of every LLM ranker, with its statistics
// summed over the episodes.
func llmInfos(rankers []Ranker, out [][]outcome) []LLMInfo {
	var infos []LLMInfo
	for r, rk := range rankers {
		lr, ok := rk.(*llmRanker)
		if !ok {
			continue
		}
		info := lr.info()
		countLLM(&info, out[r])
		infos = append(infos, info)
	}
	return infos
}

// countLLM sets info's statistics from a ranker's outcomes.
func countLLM(info *LLMInfo, outs []outcome) {
	var invalid, repaired int
	info.Episodes, info.PromptTokens, info.CompletionTokens = 0, 0, 0
	for _, o := range outs {
		info.Episodes++
		invalid += int(b2f(o.trace.Invalid))
		repaired += int(b2f(o.trace.Repaired))
		info.PromptTokens += o.trace.PromptTokens
		info.CompletionTokens += o.trace.CompletionTokens
	}
	if info.Episodes > 0 {
		info.InvalidRate = float64(invalid) / float64(info.Episodes)
		info.RepairRate = float64(repaired) / float64(info.Episodes)
	}
}

// identicalGroups returns the groups of two or more rankers whose rows in
// rep print the same means for every need and measure, each in ranker
// order, with how far their rankings agree. Cost O(R²·E·N) for R rankers,
// E episodes of N candidates.
func identicalGroups(rankers []rankerFacts, out [][]outcome, rep *Report) []Identical {
	var groups []Identical
	done := make([]bool, len(rankers))
	for a := range rankers {
		if done[a] {
			continue
		}
		members := []int{a}
		for b := a + 1; b < len(rankers); b++ {
			if !done[b] && sameRows(rep, rankers[a].name, rankers[b].name) {
				done[b] = true
				members = append(members, b)
			}
		}
		if len(members) > 1 {
			groups = append(groups, describeGroup(rankers, out, members))
		}
	}
	return groups
}

// describeGroup compares the rankings of a group of coinciding rankers
// with its first member's and says why they coincide.
func describeGroup(rankers []rankerFacts, out [][]outcome, members []int) Identical {
	first := members[0]
	id := Identical{Episodes: len(out[first])}
	random := false
	for _, m := range members {
		id.Rankers = append(id.Rankers, rankers[m].name)
		random = random || rankers[m].name == RankerRandom
	}
	for e := range out[first] {
		same := true
		for _, m := range members[1:] {
			if p := firstDifference(out[first][e].ranking, out[m][e].ranking); p > 0 {
				same = false
				if id.FirstDiff == 0 || p < id.FirstDiff {
					id.FirstDiff = p
				}
			}
		}
		if same {
			id.Same++
		}
	}
	switch {
	case random && id.Same == id.Episodes:
		id.Why = tiedWhy
	default:
		group := make([]rankerFacts, len(members))
		for i, m := range members {
			group[i] = rankers[m]
		}
		id.Why = why(group)
	}
	return id
}

// sameRows reports whether two rankers' rows print the same means for every
// need and measure.
func sameRows(rep *Report, a, b string) bool {
	found := false
	for i := range rep.Rows {
		ra := &rep.Rows[i]
		if ra.Ranker != a {
			continue
		}
		rb, ok := rep.Row(b, ra.Need)
		if !ok {
			return false
		}
		for m := range ra.Metrics {
			if formatValue(ra.Metrics[m].Mean) != formatValue(rb.Metrics[m].Mean) {
				return false
			}
		}
		found = true
	}
	return found
}

// firstDifference returns the first position (1-based) where two rankings
// differ, 0 when they are equal.
func firstDifference(a, b []int) int {
	for p := range min(len(a), len(b)) {
		if a[p] != b[p] {
			return p + 1
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b)) + 1
	}
	return 0
}

// tiedWhy explains rankers that coincide with random.
const tiedWhy = "their scores tie on every candidate of these episodes (nothing in the training data separates the candidates), " +
	"so they all fall back to the same seeded random tie-break order"

// why explains a coincidence from what the rankers rank by.
func why(members []rankerFacts) string {
	var parts []string
	for _, m := range members {
		a := m.about
		if a == "" {
			return "they rank by the same order of the candidates (the same scores, or scores in the same order)"
		}
		parts = append(parts, fmt.Sprintf("%s ranks by %s", m.name, a))
	}
	return strings.Join(parts, "; ")
}

// rankerFacts is what a report needs of a ranker beyond its outcomes:
// its name and what it ranks by (see about). Merged shards carry them in
// place of the rankers.
type rankerFacts struct {
	name, about string
}

// factsOf returns the facts of rankers.
func factsOf(rankers []Ranker) []rankerFacts {
	facts := make([]rankerFacts, len(rankers))
	for i, r := range rankers {
		facts[i] = rankerFacts{name: r.Name(), about: about(r)}
	}
	return facts
}

// about says what a ranker ranks by; "" when eval does not know.
func about(r Ranker) string {
	switch r := r.(type) {
	case *llmRanker:
		return r.about()
	case *scorer:
		return r.about
	}
	return ""
}
