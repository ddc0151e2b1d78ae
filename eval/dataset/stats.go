package dataset

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Stats summarises a Dataset (see Summarize).
type Stats struct {
	// Name and Layout are the dataset's.
	Name   string `json:"name"`
	Layout string `json:"layout"`
	// Users is the number of distinct users with an interaction.
	Users int `json:"users"`
	// Items is the catalogue size; ActiveItems have an interaction.
	Items       int `json:"items"`
	ActiveItems int `json:"active_items"`
	// Interactions is the number of feedback events.
	Interactions int `json:"interactions"`
	// Density is Interactions / (Users × ActiveItems), in [0, 1] unless
	// users repeat items; 0 when there are none.
	Density float64 `json:"density"`
	// PerUser is the distribution of interactions per user.
	PerUser Quantiles `json:"per_user"`
	// Values is the distribution of interaction values (rating, watch ratio).
	Values Quantiles `json:"values"`
	// ValueCounts counts each distinct value when there are at most 12 of
	// them (e.g. the ten half-star ratings), ascending; nil otherwise.
	ValueCounts []ValueCount `json:"value_counts,omitempty"`
	// LikeAt is the dataset's like level (Dataset.LikeAt, resolved).
	LikeAt float64 `json:"like_at"`
	// HasTime, TimeFrom and TimeTo give the span of interaction times, Unix
	// seconds; both 0 without times.
	HasTime  bool  `json:"has_time"`
	TimeFrom int64 `json:"time_from,omitempty"`
	TimeTo   int64 `json:"time_to,omitempty"`
	// Categories is the number of distinct categories; TopCategories the
	// ten with the most items, most first (ties by name).
	Categories    int             `json:"categories"`
	TopCategories []CategoryCount `json:"top_categories,omitempty"`
	// Queries, Judgements and Labels describe search judgements.
	Queries    int          `json:"queries,omitempty"`
	Judgements int          `json:"judgements,omitempty"`
	Labels     []LabelCount `json:"labels,omitempty"`
	// Tags is the number of user tags.
	Tags int `json:"tags,omitempty"`
	// InvalidUTF8Lines is how many lines, over all files, held invalid
	// UTF-8 that the loader replaced with U+FFFD (Dataset.InvalidUTF8).
	InvalidUTF8Lines int `json:"invalid_utf8_lines,omitempty"`
}

// Quantiles is a five-number-plus summary of a sample; all 0 when empty.
type Quantiles struct {
	Min    float64 `json:"min"`
	P10    float64 `json:"p10"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
}

// ValueCount is how many interactions have one value.
type ValueCount struct {
	Value float64 `json:"value"`
	Count int     `json:"count"`
}

// CategoryCount is how many items carry one category.
type CategoryCount struct {
	Category string `json:"category"`
	Items    int    `json:"items"`
}

// LabelCount is how many judgements carry one label.
type LabelCount struct {
	Label string `json:"label"`
	Count int    `json:"count"`
}

// Summarize computes the Stats of ds. It is deterministic and does not
// change ds.
func Summarize(ds *Dataset) Stats {
	st := Stats{Name: ds.Name, Layout: ds.Layout, Items: len(ds.Items), Interactions: len(ds.Interactions),
		LikeAt: ds.likeAt(), HasTime: ds.HasTime, Tags: len(ds.Tags)}
	perUser, perItem := map[string]int{}, map[string]bool{}
	vals := make([]float64, len(ds.Interactions))
	for i, in := range ds.Interactions {
		perUser[in.User]++
		perItem[in.Item] = true
		vals[i] = in.Value
		if ds.HasTime && (st.TimeFrom == 0 || in.Time < st.TimeFrom) {
			st.TimeFrom = in.Time
		}
		st.TimeTo = max(st.TimeTo, in.Time)
	}
	if !ds.HasTime {
		st.TimeTo = 0
	}
	st.Users, st.ActiveItems = len(perUser), len(perItem)
	if st.Users > 0 && st.ActiveItems > 0 {
		st.Density = float64(st.Interactions) / (float64(st.Users) * float64(st.ActiveItems))
	}
	counts := make([]float64, 0, len(perUser))
	for _, c := range perUser {
		counts = append(counts, float64(c))
	}
	st.PerUser, st.Values = quantiles(counts), quantiles(vals)
	st.ValueCounts = valueCounts(vals)
	st.Categories, st.TopCategories = categoryCounts(ds.Items)
	st.Queries, st.Judgements, st.Labels = judgementCounts(ds.Judgements)
	for _, r := range ds.InvalidUTF8 {
		st.InvalidUTF8Lines += r.Lines
	}
	return st
}

// quantiles sorts xs and summarises it (nearest-rank quantiles).
func quantiles(xs []float64) Quantiles {
	if len(xs) == 0 {
		return Quantiles{}
	}
	slices.Sort(xs)
	at := func(q float64) float64 { return xs[int(q*float64(len(xs)-1)+0.5)] }
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return Quantiles{Min: xs[0], P10: at(0.1), Median: at(0.5), P90: at(0.9), Max: xs[len(xs)-1], Mean: sum / float64(len(xs))}
}

// valueCounts counts the values of sorted xs when at most 12 are distinct.
func valueCounts(sorted []float64) []ValueCount {
	var out []ValueCount
	for i, x := range sorted {
		if i > 0 && x == sorted[i-1] {
			out[len(out)-1].Count++
			continue
		}
		if len(out) == 12 {
			return nil
		}
		out = append(out, ValueCount{Value: x, Count: 1})
	}
	return out
}

func categoryCounts(items []Item) (int, []CategoryCount) {
	n := map[string]int{}
	for _, it := range items {
		for _, c := range it.Categories {
			n[c]++
		}
	}
	out := make([]CategoryCount, 0, len(n))
	for c, k := range n {
		out = append(out, CategoryCount{Category: c, Items: k})
	}
	slices.SortFunc(out, func(a, b CategoryCount) int {
		return cmp.Or(cmp.Compare(b.Items, a.Items), strings.Compare(a.Category, b.Category))
	})
	return len(n), out[:min(10, len(out))]
}

func judgementCounts(js []Judgement) (int, int, []LabelCount) {
	if len(js) == 0 {
		return 0, 0, nil
	}
	queries, labels := map[string]bool{}, map[string]int{}
	for _, j := range js {
		queries[j.QueryID] = true
		labels[j.Label]++
	}
	var out []LabelCount
	for _, l := range []string{"E", "S", "C", "I"} {
		if labels[l] > 0 {
			out = append(out, LabelCount{Label: l, Count: labels[l]})
		}
	}
	return len(queries), len(js), out
}

// WriteText writes st as aligned "key: value" lines for people.
func (st Stats) WriteText(w io.Writer) error {
	var b strings.Builder
	row := func(k, f string, a ...any) { fmt.Fprintf(&b, "%-14s "+f+"\n", append([]any{k + ":"}, a...)...) }
	row("dataset", "%s (layout %s)", st.Name, st.Layout)
	row("users", "%d", st.Users)
	row("items", "%d (%d with interactions)", st.Items, st.ActiveItems)
	row("interactions", "%d", st.Interactions)
	if st.Interactions > 0 {
		st.writeInteractions(row)
	}
	top := make([]string, len(st.TopCategories))
	for i, c := range st.TopCategories {
		top[i] = fmt.Sprintf("%s (%d)", c.Category, c.Items)
	}
	row("categories", "%d; top: %s", st.Categories, strings.Join(top, ", "))
	if st.Judgements > 0 {
		labels := make([]string, len(st.Labels))
		for i, l := range st.Labels {
			labels[i] = fmt.Sprintf("%s:%d", l.Label, l.Count)
		}
		row("judgements", "%d over %d queries (%s)", st.Judgements, st.Queries, strings.Join(labels, " "))
	}
	if st.Tags > 0 {
		row("tags", "%d", st.Tags)
	}
	if st.InvalidUTF8Lines > 0 {
		row("invalid utf-8", "%d lines repaired (bytes replaced with U+FFFD)", st.InvalidUTF8Lines)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeInteractions writes the lines that describe interactions.
func (st Stats) writeInteractions(row func(k, f string, a ...any)) {
	row("density", "%.4f%%", 100*st.Density)
	row("per user", "%s", st.PerUser)
	row("values", "%s (like at %g)", st.Values, st.LikeAt)
	if st.ValueCounts != nil {
		parts := make([]string, len(st.ValueCounts))
		for i, vc := range st.ValueCounts {
			parts[i] = fmt.Sprintf("%g:%d", vc.Value, vc.Count)
		}
		row("value counts", "%s", strings.Join(parts, " "))
	}
	if st.HasTime {
		row("time span", "%s to %s (%.0f days)", isoDay(st.TimeFrom), isoDay(st.TimeTo), float64(st.TimeTo-st.TimeFrom)/86400)
	} else {
		row("time span", "none (file order stands for time)")
	}
}

// String formats q on one line.
func (q Quantiles) String() string {
	return fmt.Sprintf("min %g, p10 %g, median %g, p90 %g, max %g, mean %.3g", q.Min, q.P10, q.Median, q.P90, q.Max, q.Mean)
}

func isoDay(t int64) string { return time.Unix(t, 0).UTC().Format("2006-01-02") }
