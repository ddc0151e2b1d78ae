// Package report writes the results of package testbed for people and
// machines: the paper-style Markdown table with the credit diagnostics,
// its JSON form, the learning curves as CSV, and a self-contained HTML page
// with inline SVG line charts. It is apart from testbed, which trains and
// measures, so that each stays one concern.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/testbed"
)

// Setup returns the one-paragraph description of r's data and budget that
// heads every report: the dataset, each need's rule and episode counts,
// N, H, the sparse share, the budget per run and the seeds.
func Setup(r *testbed.Result) string {
	var needs []string
	for _, n := range r.NeedInfo {
		needs = append(needs, fmt.Sprintf("%s (%s; %d training / %d held-out episodes)",
			n.ID, ruleText(n.Gain, r.HistoryLen), n.TrainEpisodes, n.HeldOutEpisodes))
	}
	sparse := fmt.Sprintf("%.0f%% of user–item feedback observed", 100*r.Sparse)
	if sp := r.Sparsity; sp.History > 0 {
		sparse += fmt.Sprintf(" (one mask: %.1f%% of candidates and %.1f%% of history items observed)", 100*sp.CandidateShare(), 100*sp.HistoryShare())
	}
	return fmt.Sprintf("Dataset %s; one policy trained jointly on %s; N = %d candidates, H = %d history items, %.0f%% of users held out. "+
		"Budget per run: %d updates × %d episodes × %d rollouts = %d rollouts, %d PPO epochs, lr %g, clip %g, KL %g, entropy %g. "+
		"Sparse mode: %s. %d paired seeds (mean ± sample std). "+
		"Scores: greedy ranking of the held-out users' episodes against the dense truth.",
		r.Dataset, strings.Join(needs, " and "), r.Candidates, r.HistoryLen, 100*r.HeldOut,
		r.Train.Iters, r.Train.Batch, r.Train.Group, r.RolloutsPerRun(), r.Train.Epochs, r.Train.LR, r.Train.Clip, r.Train.KL, r.Train.Entropy,
		sparse, len(r.Seeds))
}

// ruleText describes a gain rule in a few words.
func ruleText(g prompt.GainRule, h int) string {
	switch g.Rule {
	case prompt.RuleEngagement:
		return "gain: the user's rating"
	case prompt.RuleNovelEngagement:
		return fmt.Sprintf("gain: the rating if at most %d of the item's genres appear among the last %d history items, else 0", g.MaxOverlap, h)
	}
	return "gain rule " + g.Rule
}

// WriteTable writes r's tables as Markdown: the setup paragraph, then per
// panel (policy, training cutoff, normalisation) one row per estimator
// (the initial policy first) and one column per need, mode and measure,
// each cell "mean ± std" over the seeds ("—" where the estimator does not
// run), followed by the panel's paired differences (WriteComparisons);
// then the credit diagnostics.
func WriteTable(w io.Writer, r *testbed.Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", Setup(r))
	for _, pn := range r.Panels() {
		fmt.Fprintf(&b, "\n### %s\n\n", PanelTitle(pn))
		writePanel(&b, r.TableFor(pn))
		b.WriteString("\n")
		writeComparisons(&b, r, pn)
	}
	writeDiagnostics(&b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

// PanelTitle names a panel, e.g. "autoregressive policy, cutoff 5,
// pooled normalisation".
func PanelTitle(pn testbed.Panel) string {
	cut := "whole list"
	if pn.Cutoff > 0 {
		cut = fmt.Sprintf("@%d", pn.Cutoff)
	}
	norm := pn.Normalize
	if norm == "position" {
		norm = "per-position"
	}
	return fmt.Sprintf("%s policy, training cutoff %s, %s normalisation", pn.Policy, cut, norm)
}

// writePanel writes one panel's table.
func writePanel(b *strings.Builder, t testbed.Table) {
	b.WriteString("| estimator |")
	for _, c := range t.Columns {
		fmt.Fprintf(b, " %s %s %s |", c.Need, c.Mode, c.Measure)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(t.Columns)) + "\n")
	for _, row := range t.Rows {
		fmt.Fprintf(b, "| %s |", row.Name)
		for _, c := range row.Cells {
			fmt.Fprintf(b, " %s |", cellText(c, row.Name == "initial"))
		}
		b.WriteString("\n")
	}
}

// writeComparisons writes, for panel pn and the first measure, one row per
// estimator and one column per need and mode: the paired differences
// against grpo and independent, "+0.031 ± 0.004 (10/10)" (mean ± standard
// error, seeds positive of seeds).
func writeComparisons(b *strings.Builder, r *testbed.Result, pn testbed.Panel) {
	if len(r.Measures) == 0 {
		return
	}
	type key struct{ est, need, mode string }
	at := map[key]testbed.Comparison{}
	for _, c := range r.Comparisons() {
		if c.Panel == pn && c.Measure == r.Measures[0] {
			at[key{c.Estimator, c.Need, c.Mode}] = c
		}
	}
	fmt.Fprintf(b, "Paired differences in %s, vs grpo / vs independent (mean ± standard error, seeds positive/seeds):\n\n| estimator |", r.Measures[0])
	for _, n := range r.Needs {
		for _, m := range r.Modes {
			fmt.Fprintf(b, " %s %s |", n, m)
		}
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(r.Needs)*len(r.Modes)) + "\n")
	for _, e := range r.Estimators {
		fmt.Fprintf(b, "| %s |", e.Name)
		for _, n := range r.Needs {
			for _, m := range r.Modes {
				c, ok := at[key{e.Name, n, m}]
				if !ok {
					b.WriteString(" — |")
					continue
				}
				fmt.Fprintf(b, " %s / %s |", DiffText(c.VsGRPO), DiffText(c.VsIndependent))
			}
		}
		b.WriteString("\n")
	}
}

// DiffText formats a paired difference: "+0.031 ± 0.004 (10/10)", "—"
// for none.
func DiffText(d *testbed.Diff) string {
	if d == nil {
		return "—"
	}
	return fmt.Sprintf("%+.3f ± %.3f (%d/%d)", d.Mean, d.SE, d.Positive, d.N)
}

// cellText formats a cell: "0.781 ± 0.002", "0.762" for the initial
// policy, "—" for none.
func cellText(c *testbed.Cell, single bool) string {
	switch {
	case c == nil:
		return "—"
	case single:
		return fmt.Sprintf("%.3f", c.Mean)
	}
	return fmt.Sprintf("%.3f ± %.3f", c.Mean, c.Std)
}

// writeDiagnostics appends the credit diagnostics as a Markdown table.
func writeDiagnostics(b *strings.Builder, r *testbed.Result) {
	if len(r.Diagnostics) == 0 {
		return
	}
	type key struct{ est, need, mode string }
	at := map[key]testbed.Diagnostic{}
	for _, d := range r.Diagnostics {
		at[key{d.Estimator, d.Need, d.Mode}] = d
	}
	fmt.Fprintf(b, "\nDiagnostics, credit / ceiling. Credit: at the initial policy (seed %d), the correlation between each position's advantage and its true credit, the chosen item's dense gain minus the mean gain of the alternatives left. "+
		"Ceiling: %s on the training episodes of the ranking by the gains the estimator's rewards read, what fitting each episode's reward exactly would score.\n\n| estimator |", r.Seeds[0], r.Measures[0])
	for _, n := range r.Needs {
		for _, m := range r.Modes {
			fmt.Fprintf(b, " %s %s |", n, m)
		}
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(r.Needs)*len(r.Modes)) + "\n")
	var unc []string
	for _, e := range r.Estimators {
		fmt.Fprintf(b, "| %s |", e.Name)
		for _, n := range r.Needs {
			for _, m := range r.Modes {
				d, ok := at[key{e.Name, n, m}]
				if !ok {
					b.WriteString(" — |")
					continue
				}
				fmt.Fprintf(b, " %.3f / %.3f |", d.CreditCorr, d.Ceiling)
				if e.Uncertainty {
					unc = append(unc, fmt.Sprintf("%s: corr(u, |R − R_true|) = %.3f, mean |c − 1| = %.3f", n, d.UncertaintyCorr, d.ScaleDev))
				}
			}
		}
		b.WriteString("\n")
	}
	if len(unc) > 0 {
		fmt.Fprintf(b, "\nUncertainty scaling (%s): %s.\n", testbed.EstCriticUncertainty, strings.Join(unc, "; "))
	}
}

// jsonPanel is one panel of the JSON report.
type jsonPanel struct {
	testbed.Panel
	Table testbed.Table `json:"table"`
}

// jsonReport is the JSON form of a Result's tables.
type jsonReport struct {
	Policies       []string             `json:"policies"`
	Normalizations []string             `json:"normalizations"`
	Cutoffs        []int                `json:"cutoffs"`
	Initials       []testbed.Initial    `json:"initials"`
	Sparsity       testbed.Sparsity     `json:"sparsity"`
	Panels         []jsonPanel          `json:"panels"`
	Comparisons    []testbed.Comparison `json:"comparisons"`
	Curves         []jsonCurve          `json:"curves"`
	Dataset        string               `json:"dataset"`
	Setup          string               `json:"setup"`
	Needs          []testbed.NeedInfo   `json:"needs"`
	HistoryLen     int                  `json:"history_len"`
	Candidates     int                  `json:"candidates"`
	Sparse         float64              `json:"sparse"`
	HeldOut        float64              `json:"held_out"`
	Seeds          []int64              `json:"seeds"`
	Train          testbed.TrainConfig  `json:"train"`
	RolloutsPerRun int                  `json:"rollouts_per_run"`
	Seconds        float64              `json:"seconds"`
	Table          testbed.Table        `json:"table"`
	Diagnostics    []testbed.Diagnostic `json:"diagnostics"`
}

// jsonCurve is one learning curve of the JSON report: the mean over seeds
// of the first measure against rollouts seen, per need.
type jsonCurve struct {
	testbed.Panel
	Mode      string      `json:"mode"`
	Estimator string      `json:"estimator"`
	Measure   string      `json:"measure"`
	Rollouts  []int       `json:"rollouts"`
	Mean      [][]float64 `json:"mean"` // per need, per point
}

// WriteJSON writes r's tables for machines: one indented JSON object with
// the setup (dataset, needs with their rules and episode counts, data
// settings, seeds, policies, normalisations, cutoffs, training
// configuration, rollouts per run, seconds, the sparse mode's observed
// shares), "initials" (per policy and mode), "table" (the first panel's,
// as before the panels), "panels" (each panel's Table: columns and rows,
// a null cell where an estimator does not run), "comparisons" (every
// testbed.Comparison: mean, std and the paired differences against grpo
// and independent with standard error and positive seeds), "curves" (mean
// learning curves of the first measure) and "diagnostics".
func WriteJSON(w io.Writer, r *testbed.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	rep := jsonReport{Dataset: r.Dataset, Setup: Setup(r), Needs: r.NeedInfo, HistoryLen: r.HistoryLen,
		Candidates: r.Candidates, Sparse: r.Sparse, HeldOut: r.HeldOut, Seeds: r.Seeds, Train: r.Train,
		RolloutsPerRun: r.RolloutsPerRun(), Seconds: r.Seconds, Table: r.Table(), Diagnostics: r.Diagnostics,
		Policies: r.Policies, Normalizations: r.Normalizations, Cutoffs: r.Cutoffs, Initials: r.Initials,
		Sparsity: r.Sparsity, Comparisons: r.Comparisons()}
	for _, pn := range r.Panels() {
		rep.Panels = append(rep.Panels, jsonPanel{Panel: pn, Table: r.TableFor(pn)})
		for _, mode := range r.Modes {
			for _, e := range r.Estimators {
				if c, ok := meanCurve(r, pn, e.Name, mode); ok {
					rep.Curves = append(rep.Curves, c)
				}
			}
		}
	}
	return enc.Encode(rep)
}

// meanCurve is the mean over seeds of the first measure's learning curve
// of est in panel pn and mode.
func meanCurve(r *testbed.Result, pn testbed.Panel, est, mode string) (jsonCurve, bool) {
	runs := r.RunsOf(pn, est, mode)
	if len(runs) == 0 || len(r.Measures) == 0 {
		return jsonCurve{}, false
	}
	c := jsonCurve{Panel: pn, Mode: mode, Estimator: est, Measure: r.Measures[0], Mean: make([][]float64, len(r.Needs))}
	for k, pt := range runs[0].Curve {
		c.Rollouts = append(c.Rollouts, pt.Rollouts)
		for n := range r.Needs {
			var sum float64
			for _, run := range runs {
				sum += run.Curve[k].Scores[n][0]
			}
			c.Mean[n] = append(c.Mean[n], sum/float64(len(runs)))
		}
	}
	return c, true
}

// WriteCurvesCSV writes every run's learning curve, one row per point:
// policy, cutoff, normalize, mode, estimator, seed, iter, rollouts, reward,
// true_reward, then one column per need and measure named "need:measure".
func WriteCurvesCSV(w io.Writer, r *testbed.Result) error {
	cw := csv.NewWriter(w)
	head := []string{"policy", "cutoff", "normalize", "mode", "estimator", "seed", "iter", "rollouts", "reward", "true_reward"}
	for _, n := range r.Needs {
		for _, m := range r.Measures {
			head = append(head, n+":"+m)
		}
	}
	if err := cw.Write(head); err != nil {
		return fmt.Errorf("report: write curves: %w", err)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, run := range r.Runs {
		for _, pt := range run.Curve {
			row := []string{run.Policy, strconv.Itoa(run.Cutoff), run.Normalize, run.Mode, run.Estimator, strconv.FormatInt(run.Seed, 10), strconv.Itoa(pt.Iter),
				strconv.Itoa(pt.Rollouts), f(pt.Reward), f(pt.TrueReward)}
			for n := range r.Needs {
				for m := range r.Measures {
					row = append(row, f(pt.Scores[n][m]))
				}
			}
			if err := cw.Write(row); err != nil {
				return fmt.Errorf("report: write curves: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: write curves: %w", err)
	}
	return nil
}

// WriteDir writes into dir (created if missing) curves.csv
// (WriteCurvesCSV), report.html (WriteHTML), table.md (WriteTable) and
// result.json (the whole Result, curves and final weights included).
func WriteDir(dir string, r *testbed.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	files := []struct {
		name  string
		write func(io.Writer, *testbed.Result) error
	}{
		{"curves.csv", WriteCurvesCSV},
		{"report.html", WriteHTML},
		{"table.md", WriteTable},
		{"result.json", func(w io.Writer, r *testbed.Result) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", " ")
			return enc.Encode(r)
		}},
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), func(w io.Writer) error { return f.write(w, r) }); err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes path through write, reporting the first error of the
// write or the close.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := write(f); err != nil {
		f.Close() // the write error is the one to report
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report: close %s: %w", path, err)
	}
	return nil
}
