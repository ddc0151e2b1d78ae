package eval

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wideReport is a report as wide as reports get: every default measure,
// three needs, the baselines, need-aware variants, the oracle and three LLM
// rankers with long model names, all with intervals, and a coincidence.
func wideReport() *Report {
	var measures []string
	for _, m := range DefaultMeasures() {
		measures = append(measures, m.Name)
	}
	rankers := append(append([]string{}, Baselines...), "mf+need", "popularity+need", RankerOracle,
		"llm:gpt-4o-mini", "llm:Qwen/Qwen2.5-72B-Instruct-GPTQ-Int4", "llm:meta-llama/Llama-3.3-70B-Instruct-Turbo-Free")
	rep := &Report{Measures: measures, Resamples: 1000, Confidence: 0.95, Seed: 1,
		Meta: Meta{Command: "flexrec eval", Dataset: "ml-latest-small", Needs: []string{"interest", "explore", "trend"},
			Date: "2026-12-03T22:00:00Z", Version: "v0.1.0-0.20261203220000-0123456789ab+0123456789ab"}}
	for n, need := range []string{"interest", "explore", "trend"} {
		for k, name := range rankers {
			row := Row{Ranker: name, Need: need, Episodes: 576 - 200*n, LatencyMS: 812.345}
			for m, ms := range measures {
				v := float64((k*7+m*3+n)%10) / 10
				if strings.HasPrefix(ms, "pop") {
					v *= 123.4
				}
				row.Metrics = append(row.Metrics, Stat{Name: ms, Mean: v, Low: v * 0.9, High: v * 1.1})
			}
			if strings.HasPrefix(name, LLMPrefix) {
				row.LLM = &LLMStats{InvalidRate: 0.123, RepairRate: 0.05, PromptTokens: 15234.5, CompletionTokens: 1234.5}
			}
			rep.Rows = append(rep.Rows, row)
		}
	}
	for _, name := range rankers[len(rankers)-3:] {
		rep.LLMs = append(rep.LLMs, LLMInfo{Ranker: name, Backend: "openai", Model: strings.TrimPrefix(name, LLMPrefix),
			Episodes: 1128, InvalidRate: 0.123, RepairRate: 0.05, PromptTokens: 17_184_516, CompletionTokens: 1_392_516})
	}
	rep.Identical = []Identical{{Rankers: []string{"mf", "llm:gpt-4o-mini"}, Episodes: 1128, Same: 1000, FirstDiff: 16, Why: strings.Repeat("a long explanation ", 20)}}
	return rep
}

// chromium returns the path of a Chromium or Chrome binary, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// measureScript writes the page's layout widths into the DOM, so that
// --dump-dom prints them: the document's scroll width, the viewport's
// width, and how many .scroll boxes hide content behind their own
// scrollbar.
const measureScript = `<script>
const clipped = [...document.querySelectorAll(".scroll")].filter(e => e.scrollWidth > e.clientWidth + 1).length;
document.body.setAttribute("data-layout", document.documentElement.scrollWidth + " " + window.innerWidth + " " + clipped);
</script>
</body>`

// TestWriteHTMLFitsBrowser loads the widest report in headless Chromium at
// desktop and narrow widths and checks that the page never scrolls
// sideways, and that at 1280 px no table hides columns behind its own
// scrollbar either.
func TestWriteHTMLFitsBrowser(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("SKIP: no chromium on PATH, so the report's layout at 1280 px is not checked; install it (Debian: apt-get install -y chromium) to run this test")
	}
	var b bytes.Buffer
	require.NoError(t, WriteHTML(&b, wideReport()))
	page := strings.Replace(b.String(), "</body>", measureScript, 1)
	path := filepath.Join(t.TempDir(), "report.html")
	require.NoError(t, os.WriteFile(path, []byte(page), 0o644))
	control := filepath.Join(t.TempDir(), "wide.html")
	require.NoError(t, os.WriteFile(control, []byte(`<!DOCTYPE html><html><body><div style="width: 2000px">x</div>`+measureScript+`</html>`), 0o644))
	t.Run("control", func(t *testing.T) {
		t.Parallel()
		scroll, _, _ := layout(t, bin, control, 1280)
		assert.Greater(t, scroll, 1280, "the probe sees a 2000 px page overflow a 1280 px window")
	})
	for _, tt := range []struct {
		width       int
		wantClipped bool // whether a table may scroll inside its box
	}{{1280, false}, {1024, true}, {600, true}} {
		t.Run(strconv.Itoa(tt.width), func(t *testing.T) {
			t.Parallel()
			scroll, inner, clipped := layout(t, bin, path, tt.width)
			t.Logf("window %d px: document scroll width %d, viewport %d, tables scrolling in their box %d", tt.width, scroll, inner, clipped)
			assert.Equal(t, tt.width, inner, "chromium viewport width")
			assert.LessOrEqual(t, scroll, tt.width, "document scroll width at %d px: the page scrolls sideways", tt.width)
			if !tt.wantClipped {
				assert.Zero(t, clipped, "tables scrolling inside their box at %d px", tt.width)
			}
		})
	}
}

// layout loads path in headless Chromium at the given window width and
// returns what measureScript recorded.
func layout(t *testing.T, bin, path string, width int) (scroll, inner, clipped int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		fmt.Sprintf("--window-size=%d,2000", width), "--dump-dom", "file://"+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "chromium --dump-dom: %s", stderr.String())
	m := regexp.MustCompile(`data-layout="(\d+) (\d+) (\d+)"`).FindSubmatch(out)
	require.NotNil(t, m, "chromium --dump-dom output has no data-layout attribute; stderr: %s", stderr.String())
	atoi := func(b []byte) int { n, _ := strconv.Atoi(string(b)); return n } // the regexp matched digits
	return atoi(m[1]), atoi(m[2]), atoi(m[3])
}
