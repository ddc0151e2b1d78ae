package dataset

import (
	"errors"
	"fmt"

	"github.com/flexrec/flexrec/prompt"
)

// Split names, as BuildConfig.Split takes them.
const (
	// SplitLeaveLastOut holds out each user's last HoldOut interactions by
	// time; the user's cut time is the time of the first held-out one.
	SplitLeaveLastOut = "leave-last-out"
	// SplitTemporal cuts every user at one global time: interactions before
	// it are history and training data, those at or after it are held out.
	SplitTemporal = "temporal"
)

// NegativeMix says where the negatives of a candidate set come from.
type NegativeMix struct {
	// HeldOut is the share of the negatives, in [0, 1], drawn from the
	// user's held-out items that are not relevant under the need (e.g. movies
	// the user rated low after the cut); they carry real feedback. The rest
	// (and any shortfall) are unseen items the user never met, with
	// engagement 0. Default 0.5.
	HeldOut float64 `json:"held_out"`
	// PopularityMatched, when true, draws each unseen negative to match the
	// popularity before the cut of a random positive: out of MatchPool items
	// drawn uniformly, the one closest in log(1+popularity) wins. When false
	// unseen negatives are uniform over the items with any interaction.
	PopularityMatched bool `json:"popularity_matched"`
	// MatchPool is the number of uniform draws a popularity-matched negative
	// is chosen from. Default 16; ignored unless PopularityMatched.
	MatchPool int `json:"match_pool,omitempty"`
}

// BuildConfig configures Build. Make it with DefaultBuildConfig and check
// it with Validate; the zero value is not valid (it has no need).
type BuildConfig struct {
	// Need is the need the episodes are labelled for.
	Need prompt.Need `json:"need"`
	// Split is SplitLeaveLastOut (default) or SplitTemporal.
	Split string `json:"split"`
	// HoldOut (leave-last-out) is how many of each user's last interactions
	// are held out. Default 10. A user keeps at least MinHistory before the
	// cut, so a short user holds out fewer.
	HoldOut int `json:"hold_out"`
	// CutTime (temporal) is the global cut in Unix seconds; 0 means the time
	// at quantile CutQuantile of all interaction times.
	CutTime int64 `json:"cut_time,omitempty"`
	// CutQuantile (temporal, CutTime 0) is in (0, 1). Default 0.8.
	CutQuantile float64 `json:"cut_quantile"`
	// MinHistory is the fewest interactions before the cut a user needs for
	// an episode. Default 5.
	MinHistory int `json:"min_history"`
	// HistoryLen (H) is how many of the last interactions before the cut an
	// episode shows, oldest first. Default 50.
	HistoryLen int `json:"history_len"`
	// NumCandidates (N) is the candidate set size. Default 30. A set comes
	// out shorter only when too few eligible items exist (Split.Short).
	NumCandidates int `json:"num_candidates"`
	// MaxPositives caps the relevant held-out items in a candidate set.
	// Default NumCandidates/3; the rest are negatives.
	MaxPositives int `json:"max_positives"`
	// Negatives is the negative mix.
	Negatives NegativeMix `json:"negatives"`
	// LikeAt overrides Dataset.LikeAt, the like level the need thresholds
	// are scaled by (threshold × LikeAt/4). 0 keeps the dataset's own.
	LikeAt float64 `json:"like_at,omitempty"`
	// Threshold, when not nil, replaces the (scaled) relevance threshold of
	// the need: a candidate is relevant when its gain is above it.
	Threshold *float64 `json:"threshold,omitempty"`
	// Sparse is the fraction in [0, 1] of feedback observed for training:
	// 0 is dense mode (Labels.Observed nil, Train complete). Otherwise each
	// episode marks round(Sparse×N) candidates observed and Train keeps each
	// interaction with probability Sparse. Gains stay dense for evaluation.
	Sparse float64 `json:"sparse,omitempty"`
	// Seed drives every random choice; the same seed gives the same split.
	Seed int64 `json:"seed"`
	// Limit caps the number of episodes kept (users in id order); 0 means
	// all. Train does not depend on it.
	Limit int `json:"limit,omitempty"`
}

// DefaultSparse is the observed fraction the sparse mode uses when it is
// switched on without a value (`--sparse` alone).
const DefaultSparse = 0.1

// DefaultBuildConfig returns the default configuration for need interest:
// leave-last-out holding out 10, H = 50, N = 30, at most 10 positives, half
// of the negatives from the user's low-rated held-out items, dense, seed 1.
func DefaultBuildConfig() BuildConfig {
	need, _ := prompt.LookupNeed("interest") // built in: cannot fail
	return BuildConfig{
		Need:          need,
		Split:         SplitLeaveLastOut,
		HoldOut:       10,
		CutQuantile:   0.8,
		MinHistory:    5,
		HistoryLen:    50,
		NumCandidates: 30,
		MaxPositives:  10,
		Negatives:     NegativeMix{HeldOut: 0.5, MatchPool: 16},
		Seed:          1,
	}
}

// Validate reports the first invalid field, naming it.
func (c BuildConfig) Validate() error {
	if err := c.Need.Validate(); err != nil {
		return fmt.Errorf("dataset: build config: %w", err)
	}
	for _, p := range []struct {
		ok   bool
		what string
	}{
		{c.Split == SplitLeaveLastOut || c.Split == SplitTemporal, fmt.Sprintf("split %q, want leave-last-out or temporal", c.Split)},
		{c.Split != SplitLeaveLastOut || c.HoldOut >= 1, fmt.Sprintf("hold_out %d, want >= 1", c.HoldOut)},
		{c.CutTime >= 0, fmt.Sprintf("cut_time %d, want >= 0", c.CutTime)},
		{c.CutTime != 0 || c.Split != SplitTemporal || (c.CutQuantile > 0 && c.CutQuantile < 1), fmt.Sprintf("cut_quantile %v, want in (0, 1)", c.CutQuantile)},
		{c.MinHistory >= 1, fmt.Sprintf("min_history %d, want >= 1", c.MinHistory)},
		{c.HistoryLen >= 1, fmt.Sprintf("history_len %d, want >= 1", c.HistoryLen)},
		{c.NumCandidates >= 2, fmt.Sprintf("num_candidates %d, want >= 2", c.NumCandidates)},
		{c.MaxPositives >= 1 && c.MaxPositives <= c.NumCandidates, fmt.Sprintf("max_positives %d, want in [1, num_candidates=%d]", c.MaxPositives, c.NumCandidates)},
		{c.Negatives.HeldOut >= 0 && c.Negatives.HeldOut <= 1, fmt.Sprintf("negatives.held_out %v, want in [0, 1]", c.Negatives.HeldOut)},
		{!c.Negatives.PopularityMatched || c.Negatives.MatchPool >= 1, fmt.Sprintf("negatives.match_pool %d, want >= 1", c.Negatives.MatchPool)},
		{c.LikeAt >= 0, fmt.Sprintf("like_at %v, want >= 0", c.LikeAt)},
		{c.Threshold == nil || *c.Threshold >= 0, "threshold, want >= 0"},
		{c.Sparse >= 0 && c.Sparse <= 1, fmt.Sprintf("sparse %v, want in [0, 1]", c.Sparse)},
		{c.Limit >= 0, fmt.Sprintf("limit %d, want >= 0", c.Limit)},
	} {
		if !p.ok {
			return fmt.Errorf("dataset: build config: %s", p.what)
		}
	}
	return nil
}

// ErrUnsupported is returned (wrapped) by Build when the dataset cannot
// serve the requested need or split, e.g. trend on data without times or
// search on data without judgements.
var ErrUnsupported = errors.New("dataset: unsupported by this dataset")

// Split is the result of Build: the episodes and the data that may train.
// Its JSON form carries the counts only, as a build summary.
type Split struct {
	// Need is the need id the episodes are labelled for.
	Need string `json:"need"`
	// Episodes are the kept episodes, users (or queries) in id order.
	Episodes []prompt.Episode `json:"-"`
	// Train are the interactions before each user's cut, in file order: the
	// only interactions rankers and critics may train on. It is the same for
	// every need under the same split flags; in sparse mode it is thinned to
	// the observed fraction.
	Train []Interaction `json:"-"`
	// Users is the number of users (or queries) considered.
	Users int `json:"users"`
	// Skipped counts users without MinHistory interactions before the cut or
	// without any held-out interaction.
	Skipped int `json:"skipped"`
	// Dropped counts episodes dropped because no candidate was relevant.
	Dropped int `json:"dropped"`
	// Short counts kept episodes with fewer than NumCandidates candidates.
	Short int `json:"short"`
	// Relevant is the total number of relevant candidates over the kept
	// episodes.
	Relevant int `json:"relevant"`
	// CutTime is the global cut (temporal split); 0 for leave-last-out.
	CutTime int64 `json:"cut_time,omitempty"`
	// Threshold is the relevance threshold the labels used.
	Threshold float64 `json:"threshold"`
	// Rule is the need as the labels applied it: its thresholds (and a
	// trend rule's RelevanceMin) put on the dataset's scale. Anything that
	// recomputes a gain for these episodes (the critic's fill-in) must use
	// it, not the built-in need.
	Rule prompt.Need `json:"-"`
	// TrainTotal is the size of Train before sparse thinning.
	TrainTotal int `json:"train_total"`
}
