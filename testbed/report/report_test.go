package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/testbed"
)

// handResult is a testbed.Result with known numbers: grpo's dense finals 0.7 and
// 0.8 (mean 0.75, sample std √0.005 ≈ 0.0707), the critic's sparse finals
// 0.6 twice, the initial policy 0.5.
func handResult() *testbed.Result {
	grpo, _ := testbed.LookupEstimator(testbed.EstGRPO)
	raw, _ := testbed.LookupEstimator(testbed.EstCriticRaw)
	run := func(mode, est string, seed int64, final float64) *testbed.RunResult {
		return &testbed.RunResult{Mode: mode, Estimator: est, Seed: seed, Curve: []testbed.Point{
			{Scores: [][]float64{{0.5}}},
			{Iter: 10, Rollouts: 640, Reward: 0.4, TrueReward: 0.45, Scores: [][]float64{{final}}},
		}}
	}
	return &testbed.Result{Dataset: "hand", Needs: []string{"interest"}, Modes: []string{testbed.ModeDense, testbed.ModeSparse},
		Measures: []string{"ndcg@5"}, NeedInfo: []testbed.NeedInfo{{ID: "interest", TrainEpisodes: 7, HeldOutEpisodes: 3}},
		HistoryLen: 50, Candidates: 30, Sparse: 0.1, HeldOut: 0.3,
		Estimators: []testbed.Estimator{grpo, raw}, Seeds: []int64{1, 2},
		Train:   testbed.TrainConfig{Iters: 10, Batch: 8, Group: 8, Epochs: 2, LR: 0.05, Clip: 0.2, KL: 0.01, EvalEvery: 10},
		Initial: [][]float64{{0.5}},
		Runs: []*testbed.RunResult{run(testbed.ModeDense, testbed.EstGRPO, 1, 0.7), run(testbed.ModeDense, testbed.EstGRPO, 2, 0.8),
			run(testbed.ModeSparse, testbed.EstCriticRaw, 1, 0.6), run(testbed.ModeSparse, testbed.EstCriticRaw, 2, 0.6)},
		Diagnostics: []testbed.Diagnostic{{Mode: testbed.ModeDense, Estimator: testbed.EstGRPO, Need: "interest", CreditCorr: 0.04, Ceiling: 1}}}
}

func TestTableCells(t *testing.T) {
	tb := handResult().Table()
	require.Equal(t, []testbed.Column{{Need: "interest", Mode: testbed.ModeDense, Measure: "ndcg@5"}, {Need: "interest", Mode: testbed.ModeSparse, Measure: "ndcg@5"}}, tb.Columns)
	require.Len(t, tb.Rows, 3, "initial + 2 estimators")
	assert.Equal(t, "initial", tb.Rows[0].Name)
	assert.Equal(t, &testbed.Cell{Mean: 0.5}, tb.Rows[0].Cells[0], "initial cell")
	g := tb.Rows[1].Cells[0]
	assert.InDelta(t, 0.75, g.Mean, 1e-12, "grpo dense mean")
	assert.InDelta(t, 0.070710678, g.Std, 1e-8, "grpo dense sample std")
	assert.Equal(t, 2, g.Seeds)
	assert.Nil(t, tb.Rows[1].Cells[1], "grpo did not run sparse here")
	assert.Nil(t, tb.Rows[2].Cells[0], "the critic does not run dense")
	assert.Equal(t, &testbed.Cell{Mean: 0.6, Std: 0, Seeds: 2}, tb.Rows[2].Cells[1], "critic sparse")
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, handResult()))
	out := b.String()
	for _, want := range []string{
		"| estimator | interest dense ndcg@5 | interest sparse ndcg@5 |",
		"| initial | 0.500 | 0.500 |",
		"| grpo | 0.750 ± 0.071 | — |",
		"| causal-swap+critic | — | 0.600 ± 0.000 |",
		"10 updates × 8 episodes × 8 rollouts = 640 rollouts",
		"7 training / 3 held-out episodes",
		"| grpo | 0.040 / 1.000 | — |",
	} {
		assert.Contains(t, out, want, "WriteTable output")
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteJSON(&b, handResult()))
	var got struct {
		RolloutsPerRun int `json:"rollouts_per_run"`
		Table          struct {
			Rows []struct {
				Name  string          `json:"name"`
				Cells []*testbed.Cell `json:"cells"`
			} `json:"rows"`
		} `json:"table"`
	}
	require.NoError(t, json.Unmarshal(b.Bytes(), &got), "WriteJSON output parses")
	assert.Equal(t, 640, got.RolloutsPerRun)
	require.Len(t, got.Table.Rows, 3)
	assert.Nil(t, got.Table.Rows[2].Cells[0], "a null cell where the estimator does not run")
	assert.Equal(t, 0.6, got.Table.Rows[2].Cells[1].Mean)
}

func TestWriteCurvesCSV(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteCurvesCSV(&b, handResult()))
	rows, err := csv.NewReader(&b).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+4*2, "header + 4 runs × 2 points")
	assert.Equal(t, []string{"policy", "cutoff", "normalize", "mode", "estimator", "seed", "iter", "rollouts", "reward", "true_reward", "interest:ndcg@5"}, rows[0])
	assert.Equal(t, []string{"", "0", "", "dense", "grpo", "2", "10", "640", "0.4", "0.45", "0.8"}, rows[4])
}

func TestWriteHTMLSelfContained(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteHTML(&b, handResult()))
	page := b.String()
	assert.NotContains(t, page, "<script", "no script")
	assert.NotContains(t, page, "http://", "no external resource")
	assert.NotContains(t, page, "https://", "no external resource")
	svgs := strings.Split(page, "<svg ")[1:]
	assert.Len(t, svgs, 2, "one chart per need, measure and mode")
	for i, s := range svgs {
		frag := "<svg " + s[:strings.Index(s, "</svg>")+len("</svg>")]
		dec := xml.NewDecoder(strings.NewReader(frag))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err, "chart %d is well-formed SVG", i)
		}
		assert.Equal(t, 1, strings.Count(frag, "<polyline"), "chart %d: one estimator ran in this mode", i)
	}
	assert.Contains(t, page, "0.750 ± 0.071", "the table is in the page")
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	require.NoError(t, WriteDir(dir, handResult()))
	for _, name := range []string{"curves.csv", "report.html", "table.md", "result.json"} {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, "WriteDir wrote %s", name)
		assert.Positive(t, st.Size(), "%s is not empty", name)
	}
	data, err := os.ReadFile(filepath.Join(dir, "result.json"))
	require.NoError(t, err)
	var back testbed.Result
	require.NoError(t, json.Unmarshal(data, &back), "result.json parses as a testbed.Result")
	assert.Equal(t, handResult().Table(), back.Table(), "result.json round-trips the table")
}

func TestComparisonsPairedBySeed(t *testing.T) {
	r := handResult()
	causal, _ := testbed.LookupEstimator(testbed.EstCausal)
	r.Estimators = append(r.Estimators, causal)
	for seed, final := range map[int64]float64{1: 0.75, 2: 0.78} {
		r.Runs = append(r.Runs, &testbed.RunResult{Mode: testbed.ModeDense, Estimator: testbed.EstCausal, Seed: seed,
			Curve: []testbed.Point{{Scores: [][]float64{{final}}}}})
	}
	var got *testbed.Comparison
	for _, c := range r.Comparisons() {
		if c.Estimator == testbed.EstCausal && c.Mode == testbed.ModeDense {
			got = &c
		}
	}
	require.NotNil(t, got, "a comparison for causal-swap, dense")
	// Differences against grpo (0.7, 0.8): +0.05 and −0.02; mean 0.015,
	// sample std 0.07/√2, standard error 0.035.
	require.NotNil(t, got.VsGRPO)
	assert.InDelta(t, 0.015, got.VsGRPO.Mean, 1e-12, "mean paired difference")
	assert.InDelta(t, 0.035, got.VsGRPO.SE, 1e-12, "standard error")
	assert.Equal(t, 1, got.VsGRPO.Positive, "seeds positive")
	assert.Equal(t, 2, got.VsGRPO.N, "paired seeds")
	assert.Nil(t, got.VsIndependent, "independent did not run")
	assert.Equal(t, "+0.015 ± 0.035 (1/2)", DiffText(got.VsGRPO))
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, r))
	assert.Contains(t, b.String(), "| causal-swap | +0.015 ± 0.035 (1/2) / — | — |", "the comparison table")
}
