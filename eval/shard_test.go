package eval

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/prompt"
)

// TestMergeShardsEqualsEvaluate evaluates 4 shards of 41 episodes (two
// needs, one shard given twice), passes each through JSON as a file
// would, and wants the merged report equal to one Evaluate over all
// episodes, intervals included, timings aside.
func TestMergeShardsEqualsEvaluate(t *testing.T) {
	var eps []prompt.Episode
	for u := range 41 {
		ep := syntheticEpisode(20, uint64(u+1))
		if u%3 == 1 {
			ep.Need = "explore"
		}
		eps = append(eps, *ep)
	}
	rankers := []Ranker{NewRandom(1), NewPopularity(1), NewOracle(1)}
	cfg := DefaultConfig()
	cfg.Resamples = 200
	whole, err := Evaluate(context.Background(), rankers, eps, cfg)
	require.NoError(t, err)
	var shards []*Shard
	for _, k := range []int{2, 0, 3, 1, 2} {
		keep := func(e *prompt.Episode) bool { return (int(e.ID[len(e.ID)-1])+len(e.ID))%4 == k }
		sh, err := EvaluateShard(context.Background(), rankers, eps, keep, cfg)
		require.NoError(t, err, "EvaluateShard %d", k)
		raw, err := json.Marshal(sh)
		require.NoError(t, err)
		var back Shard
		require.NoError(t, json.Unmarshal(raw, &back))
		shards = append(shards, &back)
	}
	merged, err := MergeShards(shards)
	require.NoError(t, err, "MergeShards")
	for _, rep := range []*Report{whole, merged} {
		for i := range rep.Rows {
			rep.Rows[i].LatencyMS = 0
		}
	}
	assert.Equal(t, whole, merged, "merged report: got the merge, want one machine's")

	_, err = MergeShards(shards[1:3])
	assert.ErrorContains(t, err, "a shard is missing", "MergeShards without shard 1")
}
