package prompt

import (
	"encoding/json"
	"fmt"
)

// HistoryItem is one interaction of the user before the episode's cut time.
type HistoryItem struct {
	// ItemID is the dataset's item id.
	ItemID string `json:"item_id"`
	// Text is the item's title or caption, as shown to the model.
	Text string `json:"text"`
	// Time is the interaction time in Unix seconds; 0 when the dataset has none.
	Time int64 `json:"time,omitempty"`
	// Engagement is the user's rating (MovieLens, 0.5–5) or watch ratio
	// (KuaiRec); 0 when unknown.
	Engagement float64 `json:"engagement,omitempty"`
	// Categories are the item's genres or categories.
	Categories []string `json:"categories,omitempty"`
}

// Candidate is one item of the episode's fixed candidate set. It carries only
// what a ranker may see: labels live in Episode.Labels.
type Candidate struct {
	// ItemID is the dataset's item id, unique within the episode.
	ItemID string `json:"item_id"`
	// Text is the item's title or product text.
	Text string `json:"text"`
	// Categories are the item's genres or categories.
	Categories []string `json:"categories,omitempty"`
	// Popularity is the item's number of interactions before the cut time.
	Popularity float64 `json:"popularity,omitempty"`
	// RecentPopularity is the item's number of interactions in the trend
	// window that ends at the cut time.
	RecentPopularity float64 `json:"recent_popularity,omitempty"`
}

// Labels holds the feedback of an episode, index-aligned with
// Episode.Candidates. It never reaches a prompt.
type Labels struct {
	// Gains are the dense-truth gains g_n(u,i) >= 0 under the episode's need.
	Gains []float64 `json:"gains"`
	// Relevant marks gains above the need's relevance threshold (for Recall).
	Relevant []bool `json:"relevant"`
	// Observed marks the candidates whose feedback may be used for training
	// in the sparse mode. Nil means every candidate is observed (dense mode).
	Observed []bool `json:"observed,omitempty"`
	// HistoryObserved marks, index-aligned with Episode.History, the
	// history feedback that may be used for training in the sparse mode
	// (the same user–item pairs are observed in every episode). Nil means
	// all of it (dense mode).
	HistoryObserved []bool `json:"history_observed,omitempty"`
}

// Episode is one user at one point in time with one need and a fixed set of
// candidates: the unit every stage of flexrec works on. It round-trips
// through JSON; one episode is one line of `flexrec episodes`.
type Episode struct {
	// ID identifies the episode within its file, e.g. "interest/u42".
	ID string `json:"id"`
	// UserID is the dataset's user id.
	UserID string `json:"user_id"`
	// Need is the id of the need (see Need.ID).
	Need string `json:"need"`
	// Query is the search query for the search need; empty otherwise.
	Query string `json:"query,omitempty"`
	// CutTime is the Unix time that splits history from held-out feedback;
	// 0 when the dataset has no times.
	CutTime int64 `json:"cut_time,omitempty"`
	// History is the user's history before the cut, oldest first.
	History []HistoryItem `json:"history"`
	// Candidates is the fixed candidate set, in the builder's order.
	Candidates []Candidate `json:"candidates"`
	// Labels are the gains and masks; nil for unlabelled episodes.
	Labels *Labels `json:"labels,omitempty"`
}

// Validate reports the first structural problem of e: no candidates,
// duplicate candidate ids, or labels not aligned with the candidates.
func (e *Episode) Validate() error {
	if len(e.Candidates) == 0 {
		return fmt.Errorf("prompt: episode %q: no candidates", e.ID)
	}
	seen := make(map[string]bool, len(e.Candidates))
	for i, c := range e.Candidates {
		if c.ItemID == "" {
			return fmt.Errorf("prompt: episode %q: candidate %d has no item_id", e.ID, i)
		}
		if seen[c.ItemID] {
			return fmt.Errorf("prompt: episode %q: duplicate candidate item_id %q", e.ID, c.ItemID)
		}
		seen[c.ItemID] = true
	}
	if l := e.Labels; l != nil {
		n := len(e.Candidates)
		if len(l.Gains) != n || len(l.Relevant) != n || (l.Observed != nil && len(l.Observed) != n) {
			return fmt.Errorf("prompt: episode %q: labels not aligned with %d candidates", e.ID, n)
		}
		if l.HistoryObserved != nil && len(l.HistoryObserved) != len(e.History) {
			return fmt.Errorf("prompt: episode %q: history_observed not aligned with %d history items", e.ID, len(e.History))
		}
		for i, g := range l.Gains {
			if g < 0 || g != g {
				return fmt.Errorf("prompt: episode %q: gain %d is %v, want >= 0", e.ID, i, g)
			}
		}
	}
	return nil
}

// IsObserved reports whether candidate i's feedback may be used for
// training: always true in dense mode (Labels.Observed nil).
func (l *Labels) IsObserved(i int) bool {
	return l.Observed == nil || l.Observed[i]
}

// HistoryIsObserved reports whether history item i's feedback may be used
// for training: always true in dense mode or without labels.
func (e *Episode) HistoryIsObserved(i int) bool {
	return e.Labels == nil || e.Labels.HistoryObserved == nil || e.Labels.HistoryObserved[i]
}

// ParseEpisode decodes one JSON line into an Episode and validates it.
func ParseEpisode(line []byte) (*Episode, error) {
	var e Episode
	if err := json.Unmarshal(line, &e); err != nil {
		return nil, fmt.Errorf("prompt: decode episode: %w", err)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}
