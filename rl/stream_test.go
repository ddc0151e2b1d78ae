package rl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRewardStream(t *testing.T) {
	in := `{"gains":[3,2,1],"permutation":[2,0,1]}

{"gains":[3,2,1],"permutation":[2,0,1],"variances":[0,0.5,2],"k":2,"id":"ignored"}
`
	var out bytes.Buffer
	require.NoError(t, RewardStream(context.Background(), strings.NewReader(in), &out, "in", CausalSwap, Propagated))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2, "blank line skipped")
	for n, c := range []struct{ k int }{{0}, {2}} {
		var got RewardResult
		require.NoError(t, json.Unmarshal([]byte(lines[n]), &got))
		wantR, _ := ListReward([]float64{3, 2, 1}, []int{2, 0, 1}, c.k)
		wantItems, _ := ItemRewardsFor([]float64{3, 2, 1}, []int{2, 0, 1}, c.k, CausalSwap)
		assert.InDelta(t, wantR, got.ListReward, 1e-15, "line %d list_reward", n+1)
		assert.InDeltaSlice(t, wantItems, got.ItemRewards, 1e-15, "line %d item_rewards", n+1)
	}
	assert.Contains(t, lines[0], `"u":0`, "no variances: u = 0")
	assert.NotContains(t, lines[1], `"u":0}`, "variances give u > 0")
}

func TestRewardStreamErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
		cause    error
	}{
		{"bad json", "{\"gains\":[1],\"permutation\":[0]}\n{\"gains\":", 2, nil},
		{"bad permutation", "{\"gains\":[1,2],\"permutation\":[0,0]}", 1, ErrPermutation},
		{"negative gain", "\n\n{\"gains\":[-1],\"permutation\":[0]}", 3, ErrGains},
		{"variances misaligned", "{\"gains\":[1,2],\"permutation\":[0,1],\"variances\":[1]}", 1, ErrGains},
		{"negative k", "{\"gains\":[1,2],\"permutation\":[0,1],\"k\":-1}", 1, ErrGains},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := RewardStream(context.Background(), strings.NewReader(tc.in), &out, "f.jsonl", CausalSwap, Propagated)
			var le *LineError
			require.True(t, errors.As(err, &le), "got %v", err)
			assert.Equal(t, tc.line, le.Line)
			assert.Contains(t, err.Error(), "rl: f.jsonl:")
			if tc.cause != nil {
				assert.ErrorIs(t, err, tc.cause)
			}
		})
	}
	err := RewardStream(context.Background(), strings.NewReader(""), &bytes.Buffer{}, "x", "best", Propagated)
	assert.ErrorContains(t, err, "unknown item reward")
}
