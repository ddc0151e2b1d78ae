package eval

import (
	"fmt"
	"strconv"
	"strings"
)

// llmLine is one LLM ranker in the page header, every field printed.
type llmLine struct {
	Ranker, Backend, Model, Temperature string
	Episodes                            int
	Invalid, Repaired, Tokens, Cost     string
}

// headerItems are the header's facts about the run: what the caller put in
// Meta and what the rows say.
func headerItems(rep *Report, needs []string) []metaItem {
	m := rep.Meta
	var items []metaItem
	add := func(label, value string) {
		if value != "" {
			items = append(items, metaItem{label, value})
		}
	}
	add("dataset", m.Dataset)
	asked := m.Needs
	if len(asked) == 0 {
		asked = needs
	}
	add("needs", strings.Join(asked, ", "))
	add("episodes", episodesText(rep, needs))
	add("rankers", strconv.Itoa(len(rankerNames(rep))))
	add("date", m.Date)
	add("flexrec", m.Version)
	add("command", m.Command)
	add("intervals", fmt.Sprintf("%g%% bootstrap, %d resamples, seed %d", rep.Confidence*100, rep.Resamples, rep.Seed))
	return items
}

// rankerNames returns the report's rankers in order.
func rankerNames(rep *Report) []string {
	r, _ := axes(rep)
	return r
}

// episodesText prints the episodes per need: "117", or "122 (interest
// 117, explore 5)" for several needs.
func episodesText(rep *Report, needs []string) string {
	total := 0
	var parts []string
	for _, need := range needs {
		n := 0
		for i := range rep.Rows {
			if rep.Rows[i].Need == need {
				n = max(n, rep.Rows[i].Episodes)
			}
		}
		total += n
		parts = append(parts, fmt.Sprintf("%s %s", need, thousands(n)))
	}
	if len(needs) == 1 {
		return thousands(total)
	}
	return fmt.Sprintf("%s (%s)", thousands(total), strings.Join(parts, ", "))
}

// llmLines prints the LLM rankers for the header.
func llmLines(infos []LLMInfo) []llmLine {
	out := make([]llmLine, len(infos))
	for i, in := range infos {
		out[i] = llmLine{Ranker: in.Ranker, Backend: orUnknown(in.Backend), Model: in.Model,
			Temperature: strconv.FormatFloat(in.Temperature, 'g', -1, 64), Episodes: in.Episodes,
			Invalid: percent(in.InvalidRate), Repaired: percent(in.RepairRate),
			Tokens: thousands(in.PromptTokens) + " / " + thousands(in.CompletionTokens), Cost: costText(in.Cost)}
	}
	return out
}

// rolloutItems prints the rollouts' statistics; nil without rollouts.
func rolloutItems(r *RolloutMeta) []metaItem {
	if r == nil {
		return nil
	}
	repair := "not counted"
	if r.RepairRate != nil {
		repair = percent(*r.RepairRate)
	}
	return []metaItem{
		{"policy", strings.Trim(r.Backend+" / "+r.Model, " /")},
		{"rollouts", fmt.Sprintf("%s of %s episodes", thousands(r.Rollouts), thousands(r.Episodes))},
		{"invalid", percent(r.InvalidRate)},
		{"repaired", repair},
		{"tokens in / out", thousands(r.PromptTokens) + " / " + thousands(r.CompletionTokens)},
		{"cost", costText(r.Cost)},
	}
}

// percent prints a share as a percentage with one decimal.
func percent(v float64) string {
	return strconv.FormatFloat(v*100, 'f', 1, 64) + "%"
}

// costText prints a cost at the configured prices, or "—" without prices.
func costText(c *float64) string {
	if c == nil {
		return "—"
	}
	return strconv.FormatFloat(*c, 'f', 4, 64)
}

// thousands prints n with comma thousands separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}
