package eval

import (
	"context"
	"fmt"
	"slices"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/prompt"
)

// Suite is what an evaluation runs on: labelled episodes of one or more
// needs and the interactions the rankers may train on.
type Suite struct {
	// Episodes are the episodes, need by need.
	Episodes []prompt.Episode
	// Train are the training interactions: dataset.Split.Train when built
	// from a dataset, the episodes' histories when read from a file.
	Train []dataset.Interaction
	// Splits holds one Split per need when built from a dataset (their
	// counts of users, dropped and skipped episodes); nil when read.
	Splits []*dataset.Split
}

// BuildSuite builds the episodes of every need from ds with cfg, whose Need
// is replaced by each need in turn; Train is the first split's, which
// dataset.Build makes the same for every need under the same split flags.
// It returns dataset.Build's errors wrapped with the need, and ctx.Err()
// between needs.
func BuildSuite(ctx context.Context, ds *dataset.Dataset, needs []prompt.Need, cfg dataset.BuildConfig) (*Suite, error) {
	if len(needs) == 0 {
		return nil, fmt.Errorf("eval: build suite: no need")
	}
	s := &Suite{}
	for _, need := range needs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cfg.Need = need
		sp, err := dataset.Build(ctx, ds, cfg)
		if err != nil {
			return nil, fmt.Errorf("eval: build %s episodes of %s: %w", need.ID, ds.Name, err)
		}
		if s.Train == nil {
			s.Train = sp.Train
		}
		s.Splits = append(s.Splits, sp)
		s.Episodes = append(s.Episodes, sp.Episodes...)
	}
	return s, nil
}

// ReadSuite reads labelled episodes from a JSON Lines file (one
// prompt.Episode a line, as `flexrec episodes` writes them), keeps those
// whose need is in needs (every need when needs is empty) and at most limit
// per need (limit <= 0: all), and derives Train from the kept episodes'
// histories (see TrainFromHistories). It returns the reader's errors, which
// name the file and line, and an error when no episode is left.
func ReadSuite(ctx context.Context, path string, needs []string, limit int) (*Suite, error) {
	all, err := dataset.ReadEpisodesFile(ctx, path)
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	var kept []prompt.Episode
	for _, ep := range all {
		if (len(needs) > 0 && !slices.Contains(needs, ep.Need)) || (limit > 0 && count[ep.Need] >= limit) {
			continue
		}
		count[ep.Need]++
		kept = append(kept, ep)
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("eval: %s: no episode of need %v among %d", path, needs, len(all))
	}
	return &Suite{Episodes: kept, Train: TrainFromHistories(kept)}, nil
}
