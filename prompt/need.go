package prompt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Gain rule names: the fixed menu a need picks its gain from (method.md §2).
const (
	// RuleEngagement scores an item by the user's own engagement with it
	// (rating, watch ratio). Used by interest.
	RuleEngagement = "engagement"
	// RuleNovelEngagement scores an item by engagement only when at most
	// MaxOverlap of its categories appear in the user's history, else 0.
	// Used by explore.
	RuleNovelEngagement = "novel_engagement"
	// RuleTrend scores an item by interest relevance (engagement at or above
	// RelevanceMin gives 1, else 0) times its popularity in the window of
	// WindowDays before the cut, transformed by Transform. Used by trend.
	RuleTrend = "trend"
	// RuleQueryRelevance scores an item by a graded query judgement,
	// mapped through Grades (ESCI: E=1, S=0.1, C=0.01, I=0). Used by search.
	RuleQueryRelevance = "query_relevance"
)

// Rules lists the gain rules a custom need may name.
var Rules = []string{RuleEngagement, RuleNovelEngagement, RuleTrend, RuleQueryRelevance}

// GainRule is a need's gain rule with its parameters. Parameters a rule
// does not use are ignored.
type GainRule struct {
	// Rule is one of Rules.
	Rule string `json:"rule" yaml:"rule"`
	// MaxOverlap (novel_engagement) is how many of the item's categories may
	// appear in the history for it still to count as novel. Default 0.
	MaxOverlap int `json:"max_overlap,omitempty" yaml:"max_overlap,omitempty"`
	// WindowDays (trend) is the length of the popularity window that ends at
	// the cut time, in days. Default 30.
	WindowDays float64 `json:"window_days,omitempty" yaml:"window_days,omitempty"`
	// RelevanceMin (trend) is the engagement at or above which an item is
	// interesting to the user. Default 4 (a MovieLens rating of 4).
	RelevanceMin float64 `json:"relevance_min,omitempty" yaml:"relevance_min,omitempty"`
	// Transform (trend) maps the window popularity p to a weight: "log1p"
	// (log(1+p), the default) or "linear" (p).
	Transform string `json:"transform,omitempty" yaml:"transform,omitempty"`
	// Grades (query_relevance) maps a judgement label to its gain. Default
	// ESCI: E=1, S=0.1, C=0.01, I=0.
	Grades map[string]float64 `json:"grades,omitempty" yaml:"grades,omitempty"`
}

// GainInput is what a gain rule may look at for one user–item pair.
type GainInput struct {
	// Engagement is the user's rating or watch ratio of the item.
	Engagement float64
	// Overlap is how many of the item's categories appear in the history.
	Overlap int
	// WindowPopularity is the item's interactions in the trend window.
	WindowPopularity float64
	// Grade is the query judgement label (search).
	Grade string
}

// Gain returns the gain g >= 0 of one user–item pair under the rule.
// Negative engagement counts as 0; an unknown grade gives 0.
func (r GainRule) Gain(in GainInput) float64 {
	eng := math.Max(in.Engagement, 0)
	switch r.Rule {
	case RuleEngagement:
		return eng
	case RuleNovelEngagement:
		if in.Overlap <= r.MaxOverlap {
			return eng
		}
		return 0
	case RuleTrend:
		if in.Engagement < r.relevanceMin() {
			return 0
		}
		p := math.Max(in.WindowPopularity, 0)
		if r.Transform == "linear" {
			return p
		}
		return math.Log1p(p)
	case RuleQueryRelevance:
		g, ok := r.grades()[strings.ToUpper(in.Grade)]
		if !ok {
			return 0
		}
		return g
	}
	return 0
}

// Window returns the trend window in seconds (default 30 days).
func (r GainRule) Window() int64 {
	d := r.WindowDays
	if d <= 0 {
		d = 30
	}
	return int64(d * 86400)
}

func (r GainRule) relevanceMin() float64 {
	if r.RelevanceMin > 0 {
		return r.RelevanceMin
	}
	return 4
}

func (r GainRule) grades() map[string]float64 {
	if r.Grades != nil {
		return r.Grades
	}
	return map[string]float64{"E": 1, "S": 0.1, "C": 0.01, "I": 0}
}

// Need is what the user wants from a ranking: its instruction to the model
// and the gain rule that scores a ranking against it.
type Need struct {
	// ID is the short name used on the command line and in episodes.
	ID string `json:"id" yaml:"id"`
	// Name is the display name, e.g. "Maximizing Interest".
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Instruction is the text the model reads.
	Instruction string `json:"instruction" yaml:"instruction"`
	// Gain is the gain rule.
	Gain GainRule `json:"gain" yaml:"gain"`
	// Threshold is the gain above which (strictly) a candidate is relevant
	// for Recall and HitRate. For engagement 3.5 means a rating of 4 or more.
	Threshold float64 `json:"threshold" yaml:"threshold"`
	// Show lists the side information the prompt shows for each candidate:
	// any of "categories", "popularity", "recent_popularity".
	Show []string `json:"show,omitempty" yaml:"show,omitempty"`
}

// Shows reports whether the need shows the named side information.
func (n *Need) Shows(what string) bool { return slices.Contains(n.Show, what) }

// BuiltinNeeds returns the four needs of method.md §2, in a fresh slice the
// caller may change.
func BuiltinNeeds() []Need {
	return []Need{
		{
			ID: "interest", Name: "Maximizing Interest",
			Instruction: "Rank the candidates by how much this user will enjoy them, judging from their history. Put the items they are most likely to love first.",
			Gain:        GainRule{Rule: RuleEngagement}, Threshold: 3.5,
			Show: []string{"categories"},
		},
		{
			ID: "explore", Name: "Explore New Topics",
			Instruction: "Help this user explore topics they have not tried. Rank first the items they would enjoy whose genres do not appear in their history; familiar genres go last.",
			Gain:        GainRule{Rule: RuleNovelEngagement}, Threshold: 3.5,
			Show: []string{"categories"},
		},
		{
			ID: "trend", Name: "Trend Promotion",
			Instruction: "Show this user what is trending that they would like. Rank first the items that are popular right now and match their taste.",
			Gain:        GainRule{Rule: RuleTrend, WindowDays: 30, RelevanceMin: 4}, Threshold: 0,
			Show: []string{"categories", "recent_popularity"},
		},
		{
			ID: "search", Name: "Product Search",
			Instruction: "Rank the products by how well they match the user's search query. Exact matches first, then substitutes, then complements.",
			Gain:        GainRule{Rule: RuleQueryRelevance}, Threshold: 0.05,
		},
	}
}

// LookupNeed returns the built-in need with the given id.
func LookupNeed(id string) (Need, error) {
	for _, n := range BuiltinNeeds() {
		if n.ID == id {
			return n, nil
		}
	}
	return Need{}, fmt.Errorf("prompt: unknown need %q (built in: interest, explore, trend, search; or a YAML/JSON file)", id)
}

// ResolveNeed returns the built-in need named s, or the first need of the
// file s when s names an existing file (.yaml, .yml or .json).
func ResolveNeed(s string) (Need, error) {
	if _, err := os.Stat(s); err == nil && strings.ContainsAny(s, "./") {
		needs, err := LoadNeeds(s)
		if err != nil {
			return Need{}, err
		}
		return needs[0], nil
	}
	return LookupNeed(s)
}

// LoadNeeds reads custom needs from a YAML or JSON file holding either one
// need or a list of them. Every need is validated; an error names the file,
// the need and the field.
func LoadNeeds(path string) ([]Need, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("prompt: load needs: %w", err)
	}
	needs, err := decodeNeeds(path, data)
	if err != nil {
		return nil, err
	}
	for i := range needs {
		if err := needs[i].Validate(); err != nil {
			return nil, fmt.Errorf("prompt: load needs %s: need %d: %w", path, i+1, err)
		}
	}
	return needs, nil
}

func decodeNeeds(path string, data []byte) ([]Need, error) {
	trimmed := bytes.TrimSpace(data)
	isList := len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '-')
	var needs []Need
	var err error
	if strings.EqualFold(filepath.Ext(path), ".json") {
		if isList {
			err = json.Unmarshal(data, &needs)
		} else {
			needs = make([]Need, 1)
			err = json.Unmarshal(data, &needs[0])
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if isList {
			err = dec.Decode(&needs)
		} else {
			needs = make([]Need, 1)
			err = dec.Decode(&needs[0])
		}
	}
	if err != nil {
		return nil, fmt.Errorf("prompt: load needs %s: %w", path, err)
	}
	if len(needs) == 0 {
		return nil, fmt.Errorf("prompt: load needs %s: no need in file", path)
	}
	return needs, nil
}

// Validate checks that the need has an id, an instruction and a gain rule
// from the menu with valid parameters; the error names the field.
func (n *Need) Validate() error {
	switch {
	case strings.TrimSpace(n.ID) == "":
		return fmt.Errorf("field id: missing")
	case strings.TrimSpace(n.Instruction) == "":
		return fmt.Errorf("need %q: field instruction: missing", n.ID)
	case n.Gain.Rule == "":
		return fmt.Errorf("need %q: field gain.rule: missing (one of %s)", n.ID, strings.Join(Rules, ", "))
	case !slices.Contains(Rules, n.Gain.Rule):
		return fmt.Errorf("need %q: field gain.rule: unknown rule %q (one of %s)", n.ID, n.Gain.Rule, strings.Join(Rules, ", "))
	case n.Gain.MaxOverlap < 0:
		return fmt.Errorf("need %q: field gain.max_overlap: %d, want >= 0", n.ID, n.Gain.MaxOverlap)
	case n.Gain.WindowDays < 0:
		return fmt.Errorf("need %q: field gain.window_days: %v, want >= 0", n.ID, n.Gain.WindowDays)
	case n.Gain.Transform != "" && n.Gain.Transform != "log1p" && n.Gain.Transform != "linear":
		return fmt.Errorf("need %q: field gain.transform: %q, want log1p or linear", n.ID, n.Gain.Transform)
	}
	for _, s := range n.Show {
		if s != "categories" && s != "popularity" && s != "recent_popularity" {
			return fmt.Errorf("need %q: field show: unknown %q (categories, popularity, recent_popularity)", n.ID, s)
		}
	}
	return nil
}
