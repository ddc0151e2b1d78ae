package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/eval"
)

// evalFixture holds four interest and four explore episodes of
// ml-latest-small (N = 10, H = 8), written by `flexrec episodes`.
const evalFixture = "../../eval/testdata/ml_small_episodes.jsonl"

// TestEvalEpisodesJSONGolden runs the baselines on the fixture and compares
// the JSON report, latencies zeroed, with a golden file.
func TestEvalEpisodesJSONGolden(t *testing.T) {
	code, out, stderr := runCLI(t, "", "eval", "--episodes", evalFixture, // every need of the file
		"--rankers", "random,popularity,item-knn,user-knn,mf,mf+need,oracle", "--resamples", "100", "--format", "json")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var rep eval.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Rows, 14, "7 rankers x 2 needs")
	assert.NotEmpty(t, rep.Meta.Date, "the report is dated")
	rep.Meta.Date, rep.Meta.Version = "", "" // vary by run and build
	for i := range rep.Rows {
		rep.Rows[i].LatencyMS = 0 // wall time varies
		for k := range rep.Rows[i].Metrics {
			s := &rep.Rows[i].Metrics[k] // 9 digits survive any platform's float rounding
			s.Mean, s.Low, s.High = round9(s.Mean), round9(s.Low), round9(s.High)
		}
	}
	got, err := json.MarshalIndent(&rep, "", "  ")
	require.NoError(t, err)
	path := "../../eval/testdata/cmd_eval_episodes.json"
	if *update {
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./cmd/flexrec -run EvalEpisodes -update to create %s", path)
	assert.JSONEq(t, string(want), string(got), "eval report differs from %s", path)
	oracle, ok := rep.Row("oracle", "explore")
	require.True(t, ok, "report has oracle on explore")
	s, _ := oracle.Stat("ndcg@5")
	assert.InDelta(t, 1, s.Mean, 1e-12, "oracle NDCG@5 on its own gains")
}

func round9(v float64) float64 { return math.Round(v*1e9) / 1e9 }

func TestEvalMarkdownAndOut(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report")
	code, out, stderr := runCLI(t, "", "eval", "--episodes", evalFixture, "--need", "interest",
		"--rankers", "random,oracle", "--resamples", "50", "--out", dir)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.GreaterOrEqual(t, len(lines), 4, "header, rule and two rows: %s", out)
	assert.True(t, strings.HasPrefix(lines[0], "| ranker | need | n | ndcg@5 | ndcg@10 | ndcg@30 | recall@5 | mrr@5 | hit@5 | novel@5 | pop@5 |"), "header: %s", lines[0])
	assert.True(t, strings.HasPrefix(lines[3], "| oracle | interest | 4 | 1.000 | 1.000 | 1.000 |"), "oracle row: %s", lines[3])
	for _, name := range []string{eval.CSVFile, eval.JSONFile, eval.HTMLFile} {
		_, err := os.Stat(filepath.Join(dir, name))
		assert.NoError(t, err, "--out wrote %s", name)
	}
}

// TestEvalDataset builds episodes from the embedded ml-latest-small.
func TestEvalDataset(t *testing.T) {
	code, out, stderr := runCLI(t, "", "eval", "--dataset", "ml-latest-small", "--need", "interest",
		"--rankers", "random,popularity", "--limit", "40", "--resamples", "50", "--format", "json")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var rep eval.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Rows, 2)
	assert.Equal(t, 40, rep.Rows[0].Episodes, "--limit 40")
	assert.Contains(t, stderr, "episodes built")
}

func TestEvalLLMBuiltin(t *testing.T) {
	code, out, stderr := runCLI(t, "", "eval", "--episodes", evalFixture, "--need", "interest",
		"--rankers", "random,llm", "--backend", "builtin", "--model", "builtin-pl", "--resamples", "0", "--format", "json")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var rep eval.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	row, ok := rep.Row("llm:builtin-pl", "interest")
	require.True(t, ok, "report has the llm row, named by its model")
	require.NotNil(t, row.LLM, "the llm row has LLM statistics")
	assert.Zero(t, row.LLM.InvalidRate, "the builtin policy always keeps the output contract")
	assert.Equal(t, 10.0*2-1, row.LLM.CompletionTokens, "10 ids and 9 separators per answer")
}

func TestEvalUsageErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"bad format", []string{"--format", "xml"}, 2, "want markdown or json"},
		{"unknown ranker", []string{"--rankers", "nope"}, 2, `unknown ranker "nope"`},
		{"unknown need", []string{"--need", "nope"}, 2, "unknown need"},
		{"episodes and dataset", []string{"--dataset", "ml-latest-small"}, 2, "give one"},
		{"llm without model", []string{"--rankers", "llm", "--backend", "ollama"}, 2, "--backend ollama needs --model"},
		{"unknown backend", []string{"--rankers", "llm", "--backend", "nope", "--model", "m"}, 2, "want builtin, ollama or openai"},
		{"bad mf algo", []string{"--mf-algo", "svd"}, 2, "want als or bpr"},
		{"negative resamples", []string{"--resamples", "-1"}, 2, "resamples"},
		{"missing file", []string{"--episodes", "no/such.jsonl"}, 1, "no/such.jsonl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"eval"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--episodes") {
				args = append(args, "--episodes", evalFixture)
			}
			code, _, stderr := runCLI(t, "", args...)
			assert.Equal(t, tc.code, code, "exit code; stderr: %s", stderr)
			assert.Contains(t, stderr, tc.stderr)
		})
	}
}

// TestEvalLLMOpenAI runs the llm ranker against a fake OpenAI-compatible
// server on loopback that always names three of the ten candidates.
func TestEvalLLMOpenAI(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"x","object":"chat.completion","model":"fake","choices":[{"index":0,"finish_reason":"stop",
			"message":{"role":"assistant","content":"Reasoning.\n[3] > [1] > [2]"}}],"usage":{"prompt_tokens":700,"completion_tokens":9,"total_tokens":709}}`)
	}))
	defer srv.Close()
	t.Setenv("OPENAI_API_KEY", "")
	code, out, stderr := runCLI(t, "", "eval", "--episodes", evalFixture, "--need", "interest", "--rankers", "llm",
		"--backend", "openai", "--base-url", srv.URL+"/v1", "--model", "fake", "--resamples", "0", "--format", "json")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var rep eval.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Rows, 1)
	st := rep.Rows[0].LLM
	require.NotNil(t, st)
	assert.Equal(t, int32(4), calls.Load(), "one request per episode")
	assert.Equal(t, 1.0, st.InvalidRate, "three of ten ids breaks the contract")
	assert.Equal(t, 1.0, st.RepairRate, "seven candidates placed by repair")
	assert.InDelta(t, 0.7, st.RepairedItems, 1e-12, "seven of ten repaired")
	assert.Equal(t, 700.0, st.PromptTokens)
	assert.Equal(t, 9.0, st.CompletionTokens)
}

// TestEvalSeveralLLMs runs two LLM rankers with their own backends (two
// fake OpenAI-compatible servers) and a copy of the first under another
// name beside mf, and checks the rows' names, the header's models and
// costs, and that the copy is reported as coinciding with the first.
func TestEvalSeveralLLMs(t *testing.T) {
	server := func(answer string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"finish_reason":"stop",
				"message":{"role":"assistant","content":%q}}],"usage":{"prompt_tokens":1000,"completion_tokens":10,"total_tokens":1010}}`, answer)
		}))
	}
	a, b := server("[3] > [1] > [2]"), server("[1] > [2]")
	defer a.Close()
	defer b.Close()
	t.Setenv("OPENAI_API_KEY", "")
	dir := filepath.Join(t.TempDir(), "report")
	code, out, stderr := runCLI(t, "", "eval", "--episodes", evalFixture, "--need", "interest", "--rankers", "mf",
		"--llm", "backend=openai,model=gpt-4o-mini,base-url="+a.URL+"/v1,price-in=1000,price-out=2000",
		"--llm", "backend=openai,model=other,base-url="+b.URL+"/v1,temperature=0.5",
		"--llm", "backend=openai,model=gpt-4o-mini,base-url="+a.URL+"/v1,name=again", "--resamples", "0", "--format", "json", "--out", dir)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var rep eval.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	var names []string
	for _, r := range rep.Rows {
		names = append(names, r.Ranker)
	}
	assert.Equal(t, []string{"mf", "llm:gpt-4o-mini", "llm:other", "again"}, names, "rows, in order")
	require.Len(t, rep.LLMs, 3)
	first := rep.LLMs[0]
	assert.Equal(t, "openai", first.Backend)
	assert.Equal(t, "gpt-4o-mini", first.Model)
	assert.Equal(t, 4000, first.PromptTokens, "four episodes of 1000 prompt tokens")
	require.NotNil(t, first.Cost, "priced ranker has a cost")
	assert.InDelta(t, 4000*1000/1e6+40*2000/1e6, *first.Cost, 1e-9, "cost at price-in and price-out")
	assert.Nil(t, rep.LLMs[1].Cost, "no prices, no cost")
	assert.InDelta(t, 0.5, rep.LLMs[1].Temperature, 0, "temperature of the second --llm")
	assert.Equal(t, "gpt-4o-mini", rep.LLMs[2].Model)
	require.Len(t, rep.Identical, 1, "the copy coincides with the first")
	assert.Equal(t, []string{"llm:gpt-4o-mini", "again"}, rep.Identical[0].Rankers)
	assert.Contains(t, rep.Identical[0].Why, "model gpt-4o-mini on the openai backend")
	assert.Equal(t, "flexrec eval", rep.Meta.Command)
	assert.Equal(t, evalFixture, rep.Meta.Dataset)
	assert.NotEmpty(t, rep.Meta.Version)
	page, err := os.ReadFile(filepath.Join(dir, eval.HTMLFile))
	require.NoError(t, err)
	assert.Contains(t, string(page), "llm:gpt-4o-mini and again: identical rankings on all 4 episodes")
}

func TestEvalLLMFlagErrors(t *testing.T) {
	for _, tc := range []struct{ name, llm, stderr string }{
		{"no backend", "model=m", "want openai, ollama or builtin"},
		{"no model", "backend=openai", "model= is required"},
		{"unknown key", "backend=builtin,colour=red", `unknown key "colour"`},
		{"not key=value", "backend=builtin,model", "is not key=value"},
		{"bad number", "backend=builtin,temperature=hot", `temperature="hot"`},
		{"same name twice", "backend=builtin", "named twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"eval", "--episodes", evalFixture, "--rankers", "random", "--llm", tc.llm}
			if tc.name == "same name twice" {
				args = append(args, "--llm", tc.llm)
			}
			code, _, stderr := runCLI(t, "", args...)
			assert.Equal(t, 2, code, "exit code; stderr: %s", stderr)
			assert.Contains(t, stderr, tc.stderr)
		})
	}
}
