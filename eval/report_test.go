package eval

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sampleReport is a small hand-made report: two rankers on two needs, the
// second an LLM ranker with traces, and a ranker name that needs escaping.
func sampleReport() *Report {
	stat := func(name string, mean, lo, hi float64) Stat { return Stat{Name: name, Mean: mean, Low: lo, High: hi} }
	return &Report{
		Measures: []string{"ndcg@5", "pop@5"}, Resamples: 1000, Confidence: 0.95, Seed: 1,
		Rows: []Row{
			{Ranker: "popularity", Need: "interest", Episodes: 610, LatencyMS: 0.012,
				Metrics: []Stat{stat("ndcg@5", 0.41234, 0.39, 0.43), stat("pop@5", 123.456, 120, 127.5)}},
			{Ranker: "<llm>", Need: "interest", Episodes: 610, LatencyMS: 812.5,
				Metrics: []Stat{stat("ndcg@5", 0.5, 0.45, 0.55), stat("pop@5", 80, 80, 80)},
				LLM:     &LLMStats{InvalidRate: 0.25, RepairRate: 0.125, RepairedItems: 0.02, LatencyMS: 810, PromptTokens: 1520.4, CompletionTokens: 96.6}},
			{Ranker: "popularity", Need: "explore", Episodes: 300, LatencyMS: 0.01,
				Metrics: []Stat{stat("ndcg@5", 0.1, 0.08, 0.12), stat("pop@5", 99, 97, 101)}},
			{Ranker: "<llm>", Need: "explore", Episodes: 300, LatencyMS: 790,
				Metrics: []Stat{stat("ndcg@5", 0.2, 0.17, 0.23), stat("pop@5", 40, 38, 42)},
				LLM:     &LLMStats{InvalidRate: 0, RepairRate: 0, LatencyMS: 780, PromptTokens: 1500, CompletionTokens: 90}},
		},
	}
}

// sampleReportMeta is sampleReport with what a caller and Evaluate add:
// the run's metadata, the LLM ranker's model and a coincidence.
func sampleReportMeta() *Report {
	rep := sampleReport()
	repair, cost := 0.0625, 0.25
	rep.Meta = Meta{Command: "flexrec run", Dataset: "ml-latest-small", Needs: []string{"interest", "explore"},
		Date: "2026-12-03T22:00:00Z", Version: "v0.1.0+0123456789ab",
		Rollouts: &RolloutMeta{Backend: "openai", Model: "gpt-4o-mini", Episodes: 488, Rollouts: 3904, InvalidRate: 0.125,
			RepairRate: &repair, PromptTokens: 5_935_000, CompletionTokens: 377_000, Cost: &cost}}
	rep.LLMs = []LLMInfo{{Ranker: "<llm>", Backend: "openai", Model: "gpt-4o-mini", Episodes: 910, InvalidRate: 0.17,
		RepairRate: 0.08, PromptTokens: 1_377_000, CompletionTokens: 86_000}}
	rep.SetCost("<llm>", 0.0123)
	rep.Identical = []Identical{{Rankers: []string{"popularity", "<llm>"}, Episodes: 910, Same: 910, Why: "they rank by the same scores"}}
	return rep
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file %s (run go test ./eval -update to create it)", path)
	assert.Equal(t, string(want), string(got), "output differs from %s (review, then go test ./eval -update)", path)
}

func TestWriteMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteMarkdown(&b, sampleReportMeta()))
	golden(t, "report.md", b.Bytes())
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.GreaterOrEqual(t, len(lines), 6)
	for _, l := range lines[:6] {
		assert.Equal(t, 10, strings.Count(l, "|"), "every table line has 9 columns: %q", l)
	}
	assert.Contains(t, b.String(), "| popularity | interest | 610 | 0.412 (0.390–0.430) | 123.5 (120.0–127.5) |")
	assert.Contains(t, b.String(), "popularity and <llm>: identical rankings on all 910 episodes: they rank by the same scores.")
}

func TestWriteCSVGolden(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteCSV(&b, sampleReportMeta()))
	golden(t, "report.csv", b.Bytes())
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 5, "header and one line per row")
	assert.Equal(t, "ranker,need,episodes,ndcg@5,ndcg@5_low,ndcg@5_high,pop@5,pop@5_low,pop@5_high,latency_ms,invalid_rate,repair_rate,repaired_items,llm_latency_ms,prompt_tokens,completion_tokens,backend,model", lines[0])
	assert.Equal(t, "popularity,interest,610,0.41234,0.39,0.43,123.456,120,127.5,0.012,,,,,,,,", lines[1])
	assert.True(t, strings.HasSuffix(lines[2], ",openai,gpt-4o-mini"), "the LLM row names its backend and model: %s", lines[2])
}

// TestWriteJSONFields pins the JSON field names, which are a contract.
func TestWriteJSONFields(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteJSON(&b, sampleReport()))
	var doc struct {
		Measures   []string  `json:"measures"`
		Resamples  int       `json:"resamples"`
		Confidence float64   `json:"confidence"`
		Seed       int64     `json:"seed"`
		Rows       []jsonRow `json:"rows"`
	}
	dec := json.NewDecoder(&b)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&doc), "decode with every field known")
	assert.Equal(t, []string{"ndcg@5", "pop@5"}, doc.Measures)
	assert.Equal(t, 1000, doc.Resamples)
	require.Len(t, doc.Rows, 4)
	assert.Equal(t, jsonRow{Ranker: "<llm>", Need: "interest", Episodes: 610, LatencyMS: 812.5,
		Metrics: []jsonStat{{"ndcg@5", 0.5, 0.45, 0.55}, {"pop@5", 80, 80, 80}},
		LLM:     map[string]float64{"invalid_rate": 0.25, "repair_rate": 0.125, "repaired_items": 0.02, "latency_ms": 810, "prompt_tokens": 1520.4, "completion_tokens": 96.6}},
		doc.Rows[1])
	assert.Nil(t, doc.Rows[0].LLM, "no llm object for a baseline")
	assert.NotContains(t, b.String(), `"meta"`, "no meta object when the caller gave none")
}

// TestWriteJSONMeta pins the names of the header's JSON fields.
func TestWriteJSONMeta(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteJSON(&b, sampleReportMeta()))
	var doc struct {
		Meta      map[string]any   `json:"meta"`
		LLMs      []map[string]any `json:"llms"`
		Identical []map[string]any `json:"identical"`
	}
	require.NoError(t, json.Unmarshal(b.Bytes(), &doc))
	assert.Equal(t, "ml-latest-small", doc.Meta["dataset"])
	assert.Equal(t, "v0.1.0+0123456789ab", doc.Meta["flexrec_version"])
	assert.Equal(t, map[string]any{"backend": "openai", "model": "gpt-4o-mini", "episodes": 488.0, "rollouts": 3904.0,
		"invalid_rate": 0.125, "repair_rate": 0.0625, "prompt_tokens": 5_935_000.0, "completion_tokens": 377_000.0, "cost": 0.25},
		doc.Meta["rollouts"])
	require.Len(t, doc.LLMs, 1)
	assert.Equal(t, map[string]any{"ranker": "<llm>", "backend": "openai", "model": "gpt-4o-mini", "temperature": 0.0,
		"episodes": 910.0, "invalid_rate": 0.17, "repair_rate": 0.08, "prompt_tokens": 1_377_000.0, "completion_tokens": 86_000.0, "cost": 0.0123},
		doc.LLMs[0])
	assert.Equal(t, []map[string]any{{"rankers": []any{"popularity", "<llm>"}, "episodes": 910.0, "same_rankings": 910.0, "why": "they rank by the same scores"}}, doc.Identical)
}

type jsonStat struct {
	Name   string  `json:"name"`
	Mean   float64 `json:"mean"`
	CILow  float64 `json:"ci_low"`
	CIHigh float64 `json:"ci_high"`
}

type jsonRow struct {
	Ranker    string             `json:"ranker"`
	Need      string             `json:"need"`
	Episodes  int                `json:"episodes"`
	Metrics   []jsonStat         `json:"metrics"`
	LatencyMS float64            `json:"latency_ms"`
	LLM       map[string]float64 `json:"llm"`
}

func TestWriteHTML(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteHTML(&b, sampleReportMeta()))
	page := b.String()
	assert.Equal(t, 4, strings.Count(page, "<figure>"), "one chart per measure and need")
	assert.Equal(t, 8, strings.Count(page, "<rect x="), "one bar per ranker in each chart")
	// pop@5 of <llm> on interest has a zero-width interval: 7 whiskers of 3 lines.
	assert.Equal(t, 7*3, strings.Count(page, `class="whisker"`), "whiskers for the non-degenerate intervals")
	assert.NotContains(t, page, "<llm>", "ranker names are escaped")
	assert.Contains(t, page, "&lt;llm&gt;")
	for _, banned := range []string{"<script", "<link", "@import", "src="} {
		assert.NotContains(t, page, banned, "the page must load nothing")
	}
	for _, svg := range regexp.MustCompile(`(?s)<svg xmlns.*?</svg>`).FindAllString(page, -1) {
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err, "chart SVG is well-formed XML")
		}
	}
	for _, want := range []string{"<dt>dataset</dt><dd>ml-latest-small</dd>", "<dt>date</dt><dd>2026-12-03T22:00:00Z</dd>",
		"<dt>flexrec</dt><dd>v0.1.0&#43;0123456789ab</dd>", "<dt>episodes</dt><dd>910 (interest 610, explore 300)</dd>",
		"<td class=\"name\">gpt-<wbr>4o-<wbr>mini</td>", "<td>17.0%</td><td>8.0%</td><td>1,377,000 / 86,000</td><td>0.0123</td>",
		"<dt>invalid</dt><dd>12.5%</dd>", "<dt>repaired</dt><dd>6.2%</dd>", "<dt>cost</dt><dd>0.2500</dd>",
		"popularity and &lt;llm&gt;: identical rankings on all 910 episodes: they rank by the same scores.",
		`<td class="best">0.500<span class="ci">(0.450–0.550)</span></td>`} {
		assert.True(t, strings.Contains(page, want), "WriteHTML page lacks %s", want)
	}
	order := []string{"<header>", `<h2 id="summary">Summary</h2>`, `<h2 id="charts">Charts</h2>`, `<h2 id="numbers">All numbers</h2>`}
	for i := 1; i < len(order); i++ {
		assert.Less(t, strings.Index(page, order[i-1]), strings.Index(page, order[i]), "%s comes before %s", order[i-1], order[i])
	}
	urls := regexp.MustCompile(`https?://[^"]*`).FindAllString(page, -1)
	for _, u := range urls {
		assert.Equal(t, "http://www.w3.org/2000/svg", u, "only the SVG namespace may appear as a URL")
	}
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	require.NoError(t, WriteDir(dir, sampleReport()))
	for _, name := range []string{CSVFile, JSONFile, HTMLFile} {
		info, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, "WriteDir wrote %s", name)
		assert.Positive(t, info.Size(), "%s is empty", name)
	}
}

func TestNiceCeil(t *testing.T) {
	for _, tt := range []struct{ in, want float64 }{{0, 1}, {-3, 1}, {0.43, 0.5}, {0.5, 0.5}, {0.51, 1}, {1.7, 2}, {2.2, 2.5}, {123, 200}} {
		assert.InDelta(t, tt.want, niceCeil(tt.in), 1e-12, "niceCeil(%v)", tt.in)
	}
}
