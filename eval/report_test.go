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
	require.NoError(t, WriteMarkdown(&b, sampleReport()))
	golden(t, "report.md", b.Bytes())
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.GreaterOrEqual(t, len(lines), 6)
	for _, l := range lines[:6] {
		assert.Equal(t, 10, strings.Count(l, "|"), "every table line has 9 columns: %q", l)
	}
	assert.Contains(t, b.String(), "| popularity | interest | 610 | 0.412 (0.390–0.430) | 123.5 (120.0–127.5) |")
}

func TestWriteCSVGolden(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteCSV(&b, sampleReport()))
	golden(t, "report.csv", b.Bytes())
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 5, "header and one line per row")
	assert.Equal(t, "ranker,need,episodes,ndcg@5,ndcg@5_low,ndcg@5_high,pop@5,pop@5_low,pop@5_high,latency_ms,invalid_rate,repair_rate,repaired_items,llm_latency_ms,prompt_tokens,completion_tokens", lines[0])
	assert.Equal(t, "popularity,interest,610,0.41234,0.39,0.43,123.456,120,127.5,0.012,,,,,,", lines[1])
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
	require.NoError(t, WriteHTML(&b, sampleReport()))
	page := b.String()
	assert.Equal(t, 2, strings.Count(page, "<figure>"), "one chart per measure")
	assert.Equal(t, 8, strings.Count(page, "<rect x="), "one bar per ranker and need in each chart")
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
