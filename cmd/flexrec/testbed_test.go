package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/testbed"
)

// testbedJSON is the part of `flexrec testbed --format json` the tests read.
type testbedJSON struct {
	Needs []struct {
		ID              string `json:"id"`
		TrainEpisodes   int    `json:"train_episodes"`
		HeldOutEpisodes int    `json:"held_out_episodes"`
		Gain            struct {
			MaxOverlap int `json:"max_overlap"`
		} `json:"gain"`
	} `json:"needs"`
	Seeds          []int64       `json:"seeds"`
	RolloutsPerRun int           `json:"rollouts_per_run"`
	Table          testbed.Table `json:"table"`
	Panels         []struct {
		Policy    string        `json:"policy"`
		Normalize string        `json:"normalize"`
		Table     testbed.Table `json:"table"`
	} `json:"panels"`
	Comparisons []testbed.Comparison `json:"comparisons"`
	Curves      []struct {
		Policy   string `json:"policy"`
		Rollouts []int  `json:"rollouts"`
	} `json:"curves"`
	Initials []testbed.Initial `json:"initials"`
}

func TestTestbedQuickJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 40 small runs of two policies on ml-latest-small (about 5 s)")
	}
	out := filepath.Join(t.TempDir(), "report")
	code, stdout, stderr := runCLI(t, "", "testbed", "--quick", "--format", "json", "--out", out)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var got testbedJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), "stdout is JSON")
	require.Len(t, got.Needs, 2)
	assert.Equal(t, "explore", got.Needs[1].ID)
	assert.Equal(t, 1, got.Needs[1].Gain.MaxOverlap, "explore uses the looser rule by default")
	assert.Equal(t, []int64{1, 2}, got.Seeds, "two seeds")
	assert.Equal(t, 20*8*8, got.RolloutsPerRun, "quick budget")
	require.Len(t, got.Table.Columns, 2*2*2, "needs × modes × measures")
	require.Len(t, got.Table.Rows, 7, "initial + six estimators")
	cell := func(row string, col testbed.Column) *testbed.Cell {
		for _, r := range got.Table.Rows {
			for k, c := range got.Table.Columns {
				if r.Name == row && c == col {
					return r.Cells[k]
				}
			}
		}
		t.Fatalf("no cell %s %v", row, col)
		return nil
	}
	for _, need := range []string{"interest", "explore"} {
		col := testbed.Column{Need: need, Mode: "dense", Measure: "ndcg@5"}
		init, causal := cell("initial", col), cell("causal-swap", col)
		assert.Equal(t, 2, causal.Seeds, "causal-swap ran with two seeds")
		assert.Greater(t, causal.Mean, init.Mean, "%s: trained causal-swap NDCG@5 %.3f vs initial %.3f", need, causal.Mean, init.Mean)
		assert.Nil(t, cell("causal-swap+critic", col), "critic rows are empty in the dense mode")
		assert.NotNil(t, cell("causal-swap+critic", testbed.Column{Need: need, Mode: "sparse", Measure: "recall@5"}))
	}
	require.Len(t, got.Panels, 2, "one panel per policy (quick: one cutoff, one normalisation)")
	assert.Equal(t, "autoregressive", got.Panels[1].Policy)
	assert.NotEmpty(t, got.Comparisons, "paired comparisons")
	for _, c := range got.Comparisons {
		if c.Estimator == "causal-swap" {
			require.NotNil(t, c.VsGRPO, "causal-swap vs grpo")
			assert.Equal(t, 2, c.VsGRPO.N, "paired over both seeds")
		}
	}
	require.NotEmpty(t, got.Curves, "learning curves")
	assert.Equal(t, 20*8*8, got.Curves[0].Rollouts[len(got.Curves[0].Rollouts)-1], "curve ends at the budget")
	assert.Len(t, got.Initials, 4, "initial scores per policy and mode")
	for _, name := range []string{"curves.csv", "report.html", "table.md", "result.json"} {
		_, err := os.Stat(filepath.Join(out, name))
		assert.NoError(t, err, "--out wrote %s", name)
	}
}

func TestTestbedTableFormat(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on ml-latest-small")
	}
	code, stdout, stderr := runCLI(t, "", "testbed", "--quick", "--needs", "interest", "--modes", "dense",
		"--estimators", "grpo,causal-swap", "--seeds", "1", "--iters", "2")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, "| estimator | interest dense ndcg@5 | interest dense recall@5 |", "Markdown header")
	assert.Contains(t, stdout, "| causal-swap |", "causal-swap row")
	assert.Contains(t, stdout, "2 updates × 8 episodes × 8 rollouts", "flags override --quick")
}

func TestTestbedFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"format", []string{"--format", "xml"}},
		{"estimator", []string{"--estimators", "ppo"}},
		{"mode", []string{"--modes", "half"}},
		{"need", []string{"--needs", "nosuchneed"}},
		{"seeds", []string{"--seeds", "0"}},
		{"group", []string{"--group", "1"}},
		{"policy", []string{"--policies", "transformer"}},
		{"normalization", []string{"--normalizations", "global"}},
		{"rl switch", []string{"--scaling", "huge"}},
		{"argument", []string{"extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", append([]string{"testbed"}, tc.args...)...)
			assert.Equal(t, exitUsage, code, "exit code for bad %s; stderr: %s", tc.name, stderr)
		})
	}
}

func TestTestbedVerify(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, cfg testbed.Config)
	}{
		{"defaults", nil, func(t *testing.T, cfg testbed.Config) {
			d := testbed.DefaultConfig()
			assert.Equal(t, d.Train, cfg.Train, "train config")
			assert.Equal(t, d.Seeds, cfg.Seeds)
			assert.Len(t, cfg.Seeds, 10, "ten paired seeds")
			assert.Equal(t, 1, cfg.Needs[1].Gain.MaxOverlap, "explore max_overlap")
			assert.Len(t, cfg.Estimators, 6)
			assert.Equal(t, []string{"linear", "autoregressive"}, cfg.Policies)
			assert.Equal(t, []int{0, 5}, cfg.Cutoffs)
			assert.Len(t, cfg.Normalizations, 2)
		}},
		{"protocol flags", []string{"--policies", "autoregressive", "--cutoffs", "5", "--normalizations", "pooled", "--entropy", "0",
			"--ar-next", "2", "--uncertainty", "sum", "--scaling", "clamp"},
			func(t *testing.T, cfg testbed.Config) {
				assert.Equal(t, []string{"autoregressive"}, cfg.Policies)
				assert.Equal(t, []int{5}, cfg.Cutoffs)
				assert.Equal(t, []string{"pooled"}, cfg.Normalizations)
				assert.Equal(t, 0.0, cfg.Train.Entropy)
				assert.Equal(t, 2.0, cfg.Train.AR.Next)
				assert.Equal(t, "sum", string(cfg.Train.RL.Uncertainty))
				assert.Equal(t, "clamp", string(cfg.Train.RL.Scaling))
			}},
		{"quick with overrides", []string{"--quick", "--iters", "7", "--needs", "explore", "--explore-overlap", "0", "--k", "10"},
			func(t *testing.T, cfg testbed.Config) {
				assert.Equal(t, 7, cfg.Train.Iters, "--iters overrides --quick")
				assert.Equal(t, testbed.QuickConfig().Train.Batch, cfg.Train.Batch, "--quick batch kept")
				assert.Equal(t, testbed.QuickConfig().Build.Limit, cfg.Build.Limit, "--quick limit kept")
				assert.Equal(t, 0, cfg.Needs[0].Gain.MaxOverlap, "--explore-overlap")
				assert.Equal(t, "ndcg@10", cfg.Measures[0].Name)
				assert.Equal(t, 10, cfg.Measures[1].K)
			}},
		{"numeric flags", []string{"--seeds", "5", "--batch", "4", "--group", "4", "--lr", "0.1", "--kl", "0", "--sparse", "0.2", "--held-out", "0.5", "--history-len", "20"},
			func(t *testing.T, cfg testbed.Config) {
				assert.Equal(t, []int64{1, 2, 3, 4, 5}, cfg.Seeds)
				assert.Equal(t, 4, cfg.Train.Batch)
				assert.Equal(t, 4, cfg.Train.Group)
				assert.Equal(t, 0.1, cfg.Train.LR)
				assert.Equal(t, 0.0, cfg.Train.KL)
				assert.Equal(t, 0.2, cfg.Sparse)
				assert.Equal(t, 0.5, cfg.HeldOut)
				assert.Equal(t, 20, cfg.Build.HistoryLen)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *testbedOptions
			c := newTestbedCmdRunF(io3{}, func(_ context.Context, o *testbedOptions, _ io3) error { got = o; return nil })
			c.SetArgs(append([]string{}, tc.args...)) // never nil: cobra would read os.Args
			require.NoError(t, c.Execute())
			require.NotNil(t, got, "run function called")
			cfg, err := got.verify()
			require.NoError(t, err, "verify")
			tc.check(t, cfg)
		})
	}
}
