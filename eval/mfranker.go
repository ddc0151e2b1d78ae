package eval

import (
	"context"
	"fmt"
	"strings"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/mf"
	"github.com/flexrec/flexrec/prompt"
)

// NewMF trains a matrix factorisation on the training interactions (each
// one a rating of its Value) with cfg and returns the ranker "mf", which
// orders candidates by mf.Model.Score(user, item), descending: the
// predicted rating for ALS, the BPR score for BPR. A user or item absent
// from the training data gets the model's fallback (see mf.Model.Score).
// It returns mf's errors (an invalid cfg, no data, ctx cancelled) wrapped.
func NewMF(ctx context.Context, train []dataset.Interaction, cfg mf.Config, seed int64) (Ranker, error) {
	model, err := TrainMF(ctx, train, cfg)
	if err != nil {
		return nil, err
	}
	return newMFRanker(model, seed), nil
}

// TrainMF trains the model the mf ranker ranks by: mf.Train on the
// training interactions, each one a rating of its Value, with cfg. The same
// train and cfg give the same model (mf.Train is deterministic), so a
// caller that needs the model too (the built-in policy scores with it)
// trains once with TrainMF and passes the model as RankerConfig.MFModel.
// It returns mf's errors (an invalid cfg, no data, ctx cancelled) wrapped.
func TrainMF(ctx context.Context, train []dataset.Interaction, cfg mf.Config) (*mf.Model, error) {
	model, err := mf.Train(ctx, dataset.Ratings(train), cfg)
	if err != nil {
		return nil, fmt.Errorf("eval: train mf ranker on %d interactions: %w", len(train), err)
	}
	return model, nil
}

// newMFRanker wraps a trained model.
func newMFRanker(model *mf.Model, seed int64) *scorer {
	about := fmt.Sprintf("the order of %s matrix-factorisation scores trained on the training interactions", strings.ToUpper(model.Algo()))
	return &scorer{name: "mf", seed: seed, about: about, score: func(_ context.Context, ep *prompt.Episode, dst []float64) error {
		for i, c := range ep.Candidates {
			dst[i] = model.Score(ep.UserID, c.ItemID)
		}
		return nil
	}}
}
