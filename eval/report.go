package eval

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Files written by WriteDir.
const (
	// CSVFile holds one line per ranker and need (see WriteCSV).
	CSVFile = "results.csv"
	// JSONFile holds the Report as JSON (see WriteJSON).
	JSONFile = "results.json"
	// HTMLFile is the self-contained report page (see WriteHTML).
	HTMLFile = "report.html"
)

// hasLLM reports whether any row carries LLM statistics.
func (r *Report) hasLLM() bool {
	for i := range r.Rows {
		if r.Rows[i].LLM != nil {
			return true
		}
	}
	return false
}

// llmInfo returns the LLMInfo of the named ranker; zero for a ranker that
// is not an LLM ranker.
func (r *Report) llmInfo(ranker string) LLMInfo {
	for _, in := range r.LLMs {
		if in.Ranker == ranker {
			return in
		}
	}
	return LLMInfo{}
}

// formatValue prints a metric value: three decimals below 10, one above.
func formatValue(v float64) string {
	if math.Abs(v) >= 10 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// formatStat prints "mean (low–high)", or the mean alone for a zero-width
// interval.
func formatStat(s Stat) string {
	if s.Low == s.High {
		return formatValue(s.Mean)
	}
	return fmt.Sprintf("%s (%s–%s)", formatValue(s.Mean), formatValue(s.Low), formatValue(s.High))
}

// WriteMarkdown writes the report as one Markdown table: a line per ranker
// and need with every measure as "mean (low–high)", the mean latency per
// ranking in milliseconds, and, when an LLM ranker took part, its invalid
// and repair rates and mean tokens per episode. A caption line gives the
// interval's coverage and resamples, and a line per pair of rankers whose
// rankings coincide on every episode says so and why.
func WriteMarkdown(w io.Writer, rep *Report) error {
	llm := rep.hasLLM()
	head := append([]string{"ranker", "need", "n"}, rep.Measures...)
	head = append(head, "ms/rank")
	if llm {
		head = append(head, "invalid", "repaired", "tokens in/out")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat(" --- |", len(head)))
	for _, row := range rep.Rows {
		cells := []string{mdEscape(row.Ranker), mdEscape(row.Need), strconv.Itoa(row.Episodes)}
		for _, s := range row.Metrics {
			cells = append(cells, formatStat(s))
		}
		cells = append(cells, strconv.FormatFloat(row.LatencyMS, 'f', 3, 64))
		if llm {
			cells = append(cells, llmCells(row.LLM)...)
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintf(&b, "\n%s\n", caption(rep))
	for _, id := range rep.Identical {
		fmt.Fprintf(&b, "\n%s\n", mdEscape(id.Note()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape keeps a name from breaking a Markdown table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}

// llmCells returns the LLM columns of a row; blanks for non-LLM rankers.
func llmCells(s *LLMStats) []string {
	if s == nil {
		return []string{"", "", ""}
	}
	return []string{
		strconv.FormatFloat(s.InvalidRate, 'f', 3, 64),
		strconv.FormatFloat(s.RepairRate, 'f', 3, 64),
		fmt.Sprintf("%.0f/%.0f", s.PromptTokens, s.CompletionTokens),
	}
}

// WriteJSON writes the report as one indented JSON object: the fields of
// Report (measures, resamples, confidence, seed, rows, and when set meta,
// llms and identical), each row with ranker, need, episodes, metrics
// (name, mean, ci_low, ci_high), latency_ms and, for LLM rankers, llm
// (invalid_rate, repair_rate, repaired_items, latency_ms, prompt_tokens,
// completion_tokens).
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("eval: write json: %w", err)
	}
	return nil
}

// WriteCSV writes the report as CSV with a header and one line per ranker
// and need: ranker, need, episodes, then for every measure M the columns
// M, M_low and M_high, then latency_ms, and the LLM columns invalid_rate,
// repair_rate, repaired_items, llm_latency_ms, prompt_tokens and
// completion_tokens (empty for rankers without traces), and last backend
// and model (empty but for LLM rankers).
func WriteCSV(w io.Writer, rep *Report) error {
	cw := csv.NewWriter(w)
	head := []string{"ranker", "need", "episodes"}
	for _, m := range rep.Measures {
		head = append(head, m, m+"_low", m+"_high")
	}
	head = append(head, "latency_ms", "invalid_rate", "repair_rate", "repaired_items", "llm_latency_ms", "prompt_tokens", "completion_tokens", "backend", "model")
	if err := cw.Write(head); err != nil {
		return fmt.Errorf("eval: write csv: %w", err)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, row := range rep.Rows {
		line := []string{row.Ranker, row.Need, strconv.Itoa(row.Episodes)}
		for _, s := range row.Metrics {
			line = append(line, f(s.Mean), f(s.Low), f(s.High))
		}
		line = append(line, f(row.LatencyMS))
		if s := row.LLM; s != nil {
			line = append(line, f(s.InvalidRate), f(s.RepairRate), f(s.RepairedItems), f(s.LatencyMS), f(s.PromptTokens), f(s.CompletionTokens))
		} else {
			line = append(line, "", "", "", "", "", "")
		}
		line = append(line, rep.llmInfo(row.Ranker).Backend, rep.llmInfo(row.Ranker).Model)
		if err := cw.Write(line); err != nil {
			return fmt.Errorf("eval: write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("eval: write csv: %w", err)
	}
	return nil
}

// WriteDir creates dir if needed and writes CSVFile, JSONFile and HTMLFile
// into it, replacing files of those names.
func WriteDir(dir string, rep *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval: write report: %w", err)
	}
	for name, write := range map[string]func(io.Writer, *Report) error{
		CSVFile: WriteCSV, JSONFile: WriteJSON, HTMLFile: WriteHTML,
	} {
		if err := writeFile(filepath.Join(dir, name), rep, write); err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes one report file, reporting the close error too.
func writeFile(path string, rep *Report, write func(io.Writer, *Report) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("eval: write report: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("eval: write report %s: %w", path, cerr)
		}
	}()
	if err := write(f, rep); err != nil {
		return fmt.Errorf("eval: write report %s: %w", path, err)
	}
	return nil
}
