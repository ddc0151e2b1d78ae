package eval

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/mf"
)

// TestMFModelShared: the built-in policy's model (mf.Train on the split's
// training interactions with mf.DefaultBPRConfig(), as the job trains it)
// is the model the report's mf ranker trains, so passing it as
// RankerConfig.MFModel changes no ranking and saves one training.
func TestMFModelShared(t *testing.T) {
	sp := loadSplits(t)[0]
	ctx := context.Background()
	policy, err := mf.Train(ctx, dataset.Ratings(sp.Train), mf.DefaultBPRConfig())
	require.NoError(t, err, "train the policy's model")

	rc := DefaultRankerConfig()
	require.Equal(t, mf.DefaultBPRConfig(), rc.MF, "the report's mf config is the policy's")
	rc.Train, rc.Seed = sp.Train, 7 // the ranker's seed breaks ties, it does not train
	trained, err := NewRankers(ctx, []string{RankerMF, RankerMF + NeedSuffix}, rc)
	require.NoError(t, err, "NewRankers training mf")
	model, err := TrainMF(ctx, sp.Train, rc.MF)
	require.NoError(t, err, "TrainMF")

	rc.MFModel, rc.Train = policy, nil // no training data needed
	shared, err := NewRankers(ctx, []string{RankerMF, RankerMF + NeedSuffix}, rc)
	require.NoError(t, err, "NewRankers with MFModel")
	for e := range sp.Episodes {
		ep := &sp.Episodes[e]
		for _, c := range ep.Candidates {
			require.Equal(t, policy.Score(ep.UserID, c.ItemID), model.Score(ep.UserID, c.ItemID), "TrainMF and the policy's training give the same model")
		}
		for r := range trained {
			require.Equal(t, rankOrFail(t, trained[r], ep), rankOrFail(t, shared[r], ep), "%s ranking of %s", trained[r].Name(), ep.ID)
		}
	}
}

func TestMFModelAlgoMismatch(t *testing.T) {
	model, err := TrainMF(context.Background(), knnTrain(), mf.DefaultConfig()) // ALS
	require.NoError(t, err)
	rc := DefaultRankerConfig() // BPR
	rc.MFModel = model
	_, err = NewRankers(context.Background(), []string{RankerMF}, rc)
	assert.ErrorContains(t, err, "the given model is als", "NewRankers with an ALS model for a BPR config")
}
