package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRewardCommand(t *testing.T) {
	d2 := 1 / math.Log2(3)
	idcg := 3 + 2*d2 + 0.5
	in := `{"gains":[3,2,1],"permutation":[2,0,1]}
{"gains":[3,2,1],"permutation":[2,0,1],"variances":[0,0.5,2]}
`
	tests := []struct {
		name  string
		args  []string
		items []float64
		u     []float64
	}{
		{"causal swap by default", nil, []float64{((1-3)*(1-d2) + (1-2)*0.5) / 2 / idcg, (3 - 2) * (d2 - 0.5) / idcg, 0},
			[]float64{0, (2 + 0.25*0.5) / (idcg * idcg)}},
		{"independent, plain sum", []string{"--item-reward", "independent", "--uncertainty", "sum"},
			[]float64{1 / idcg, 3 * d2 / idcg, 2 * 0.5 / idcg}, []float64{0, 2.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, in, append([]string{"reward"}, tc.args...)...)
			require.Equal(t, 0, code, "stderr: %s", stderr)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			require.Len(t, lines, 2)
			for n, line := range lines {
				var got struct {
					ListReward  *float64  `json:"list_reward"`
					ItemRewards []float64 `json:"item_rewards"`
					U           *float64  `json:"u"`
				}
				require.NoError(t, json.Unmarshal([]byte(line), &got))
				require.NotNil(t, got.ListReward, "list_reward present")
				require.NotNil(t, got.U, "u present")
				assert.InDelta(t, (1+3*d2+2*0.5)/idcg, *got.ListReward, 1e-12, "line %d list_reward", n+1)
				assert.InDeltaSlice(t, tc.items, got.ItemRewards, 1e-12, "line %d item_rewards", n+1)
				assert.InDelta(t, tc.u[n], *got.U, 1e-12, "line %d u", n+1)
			}
		})
	}
}

func TestRewardCommandFileAndErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("{\"gains\":[1,0],\"permutation\":[0,1],\"k\":1}\n{\"gains\":[1],\"permutation\":[3]}\n"), 0o644))
	code, out, stderr := runCLI(t, "", "reward", path)
	assert.Equal(t, 1, code)
	assert.Equal(t, "{\"list_reward\":1,\"item_rewards\":[1,0],\"u\":0}\n", out, "the good first line is flushed")
	assert.Contains(t, stderr, "r.jsonl:2")

	code, _, stderr = runCLI(t, "{\"gains\":[1], \"permutation\":", "reward")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "stdin:1")

	code, _, stderr = runCLI(t, "", "reward", "--item-reward", "best")
	assert.Equal(t, 2, code, "bad flag value is a usage error: %s", stderr)

	code, out, _ = runCLI(t, "", "reward", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "flexrec reward --item-reward")
}

func TestRewardCommandSwitches(t *testing.T) {
	d2 := 1 / math.Log2(3)
	idcg := 3 + 2*d2 + 0.5
	line := `{"gains":[3,2,1],"permutation":[1,2,0],"repaired":[false,false,true]}` + "\n"
	for _, tc := range []struct {
		name string
		args []string
		want float64
	}{
		{"counted by default", nil, (2 + 1*d2 + 3*0.5) / idcg},
		{"excluded", []string{"--repaired-tail", "excluded"}, (2 + 1*d2) / idcg},
		{"zero with a penalty", []string{"--repaired-tail", "zero", "--format-penalty", "0.3"}, -0.3 / 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, line, append([]string{"reward"}, tc.args...)...)
			require.Equal(t, 0, code, "stderr: %s", stderr)
			var got struct {
				ListReward float64 `json:"list_reward"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &got))
			assert.InDelta(t, tc.want, got.ListReward, 1e-12, "list_reward")
		})
	}
	group := `{"gains":[3,2,1],"rollouts":[{"permutation":[0,1,2]},{"permutation":[2,1,0],"repaired":[false,true,true]}]}` + "\n"
	code, out, stderr := runCLI(t, group, "reward", "--repaired-tail", "zero", "--level", "sequence")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var got struct {
		Rewards []float64   `json:"rewards"`
		Seq     []float64   `json:"sequence_advantages"`
		Items   [][]float64 `json:"item_advantages"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.InDeltaSlice(t, []float64{1, 0}, got.Rewards, 1e-12, "rewards: the repaired rollout scores 0")
	a := 0.5 / (1/math.Sqrt2 + 1e-4)
	assert.InDeltaSlice(t, []float64{a, -a}, got.Seq, 1e-12, "GRPO advantages")
	assert.InDeltaSlice(t, []float64{-a, 0, 0}, got.Items[1], 1e-12, "sequence level: generated items get A_i, repaired 0")

	for _, bad := range [][]string{{"--normalize", "global"}, {"--repaired-tail", "drop"}, {"--delta", "0"}} {
		code, _, stderr := runCLI(t, "", append([]string{"reward"}, bad...)...)
		assert.Equal(t, 2, code, "reward %v is a usage error: %s", bad, stderr)
	}
}
