package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/flexrec/flexrec/testbed"
)

// palette colours the estimators, in row order (cycled past ten).
var palette = [...]string{"#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#76b7b2", "#b07aa1", "#edc948", "#9c755f", "#ff9da7", "#bab0ac"}

// Chart geometry, in SVG user units.
const (
	chW, chH          = 420.0, 240.0
	padL, padR        = 46.0, 10.0
	padTop, padBottom = 24.0, 34.0
	plotW, plotH      = chW - padL - padR, chH - padTop - padBottom
)

// svgLine is one estimator's mean curve and its ±1 std band.
type svgLine struct {
	Name, Color  string
	Points, Band string
}

// svgTick is a labelled grid line (Horizontal: a y value).
type svgTick struct {
	Pos   float64
	Label string
}

// svgChart is one (need, measure, mode) chart.
type svgChart struct {
	Title          string
	Lines          []svgLine
	YTicks, XTicks []svgTick
	InitialY       float64
	W, H, L, R, T  float64 // width, height and the plot's left, right, top
	B              float64 // the plot's bottom
}

// htmlPanel is one panel's part of the page.
type htmlPanel struct {
	Title       string
	Table       template.HTML
	Comparisons template.HTML
	Charts      []svgChart
}

// htmlPage is the data of the report template.
type htmlPage struct {
	Setup   string
	Legend  []svgLine
	Panels  []htmlPanel
	Seconds float64
}

// WriteHTML writes a self-contained HTML report of r (no script, no
// external resource, so it opens offline): the setup, then per panel
// (policy, training cutoff, normalisation) the table, the paired
// differences, and one inline SVG line chart per need and mode with every
// estimator's held-out first measure (NDCG@5 by default) against rollouts
// seen (mean over seeds, shaded ±1 std), the initial policy dashed.
func WriteHTML(w io.Writer, r *testbed.Result) error {
	page := htmlPage{Setup: Setup(r), Seconds: r.Seconds}
	for i, e := range r.Estimators {
		page.Legend = append(page.Legend, svgLine{Name: e.Name, Color: palette[i%len(palette)]})
	}
	for _, pn := range r.Panels() {
		var tb, cb strings.Builder
		writeHTMLTable(&tb, r.TableFor(pn))
		writeHTMLComparisons(&cb, r, pn)
		hp := htmlPanel{Title: PanelTitle(pn), Table: template.HTML(tb.String()), // built from escaped parts
			Comparisons: template.HTML(cb.String())}
		for n, need := range r.Needs {
			for _, mode := range r.Modes {
				if len(r.Measures) > 0 {
					hp.Charts = append(hp.Charts, chart(r, pn, n, 0, mode, need+" · "+r.Measures[0]+" · "+mode))
				}
			}
		}
		page.Panels = append(page.Panels, hp)
	}
	if err := reportTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("report: write html: %w", err)
	}
	return nil
}

// writeHTMLTable writes a panel's table as HTML, every text escaped.
func writeHTMLTable(b *strings.Builder, t testbed.Table) {
	esc := template.HTMLEscapeString
	b.WriteString("<table><tr><th>estimator</th>")
	for _, c := range t.Columns {
		fmt.Fprintf(b, "<th>%s<br>%s<br>%s</th>", esc(c.Need), esc(c.Mode), esc(c.Measure))
	}
	b.WriteString("</tr>")
	for _, row := range t.Rows {
		fmt.Fprintf(b, "<tr><td>%s</td>", esc(row.Name))
		for _, c := range row.Cells {
			fmt.Fprintf(b, "<td>%s</td>", esc(cellText(c, row.Name == "initial")))
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</table>")
}

// writeHTMLComparisons writes a panel's paired differences in the first
// measure as HTML, every text escaped.
func writeHTMLComparisons(b *strings.Builder, r *testbed.Result, pn testbed.Panel) {
	if len(r.Measures) == 0 {
		return
	}
	esc := template.HTMLEscapeString
	type key struct{ est, need, mode string }
	at := map[key]testbed.Comparison{}
	for _, c := range r.Comparisons() {
		if c.Panel == pn && c.Measure == r.Measures[0] {
			at[key{c.Estimator, c.Need, c.Mode}] = c
		}
	}
	fmt.Fprintf(b, "<p>Paired differences in %s against grpo / against independent: mean ± standard error (seeds positive/seeds).</p><table><tr><th>estimator</th>", esc(r.Measures[0]))
	for _, n := range r.Needs {
		for _, m := range r.Modes {
			fmt.Fprintf(b, "<th>%s<br>%s</th>", esc(n), esc(m))
		}
	}
	b.WriteString("</tr>")
	for _, e := range r.Estimators {
		fmt.Fprintf(b, "<tr><td>%s</td>", esc(e.Name))
		for _, n := range r.Needs {
			for _, m := range r.Modes {
				text := "—"
				if c, ok := at[key{e.Name, n, m}]; ok {
					text = DiffText(c.VsGRPO) + " / " + DiffText(c.VsIndependent)
				}
				fmt.Fprintf(b, "<td>%s</td>", esc(text))
			}
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</table>")
}

// series returns, per curve point, the rollouts and the mean and std over
// seeds of measure m for need n of estimator est in panel pn and mode; nil
// when the estimator did not run there.
func series(r *testbed.Result, pn testbed.Panel, est, mode string, n, m int) (xs, mean, std []float64) {
	runs := r.RunsOf(pn, est, mode)
	if len(runs) == 0 {
		return nil, nil, nil
	}
	for k := range runs[0].Curve {
		vals := make([]float64, len(runs))
		for s, run := range runs {
			vals[s] = run.Curve[k].Scores[n][m]
		}
		mu, sd := testbed.MeanStd(vals)
		xs, mean, std = append(xs, float64(runs[0].Curve[k].Rollouts)), append(mean, mu), append(std, sd)
	}
	return xs, mean, std
}

// chart lays out one chart: y from the lowest to the highest mean ± std
// (and the initial score), padded, x from 0 to the rollouts of a run.
func chart(r *testbed.Result, pn testbed.Panel, n, m int, mode, title string) svgChart {
	c := svgChart{Title: title, W: chW, H: chH, L: padL, R: padL + plotW, T: padTop, B: padTop + plotH}
	initial := r.InitialFor(pn.Policy, mode)
	if initial == nil {
		initial = r.Initial
	}
	lo, hi := initial[n][m], initial[n][m]
	for _, e := range r.Estimators {
		_, mean, std := series(r, pn, e.Name, mode, n, m)
		for k := range mean {
			lo, hi = math.Min(lo, mean[k]-std[k]), math.Max(hi, mean[k]+std[k])
		}
	}
	if hi-lo < 1e-3 {
		lo, hi = lo-0.01, hi+0.01
	}
	pad := 0.05 * (hi - lo)
	lo, hi = math.Max(0, lo-pad), math.Min(1, hi+pad)
	xmax := float64(max(r.RolloutsPerRun(), 1))
	px := func(x float64) float64 { return padL + plotW*x/xmax }
	py := func(y float64) float64 { return padTop + plotH*(hi-y)/(hi-lo) }
	for i, e := range r.Estimators {
		xs, mean, std := series(r, pn, e.Name, mode, n, m)
		if xs == nil {
			continue
		}
		var pts, up, down []string
		for k := range xs {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[k]), py(mean[k])))
			up = append(up, fmt.Sprintf("%.1f,%.1f", px(xs[k]), py(mean[k]+std[k])))
			down = append([]string{fmt.Sprintf("%.1f,%.1f", px(xs[k]), py(mean[k]-std[k]))}, down...)
		}
		c.Lines = append(c.Lines, svgLine{Name: e.Name, Color: palette[i%len(palette)],
			Points: strings.Join(pts, " "), Band: strings.Join(append(up, down...), " ")})
	}
	c.InitialY = py(initial[n][m])
	for k := 0; k <= 4; k++ {
		y := lo + (hi-lo)*float64(k)/4
		c.YTicks = append(c.YTicks, svgTick{Pos: py(y), Label: fmt.Sprintf("%.3f", y)})
		x := xmax * float64(k) / 4
		c.XTicks = append(c.XTicks, svgTick{Pos: px(x), Label: fmt.Sprintf("%.0f", x)})
	}
	return c
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>flexrec testbed</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1320px}
table{border-collapse:collapse;font-size:13px;margin:12px 0}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:8px}
.legend span{display:inline-block;margin-right:14px;font-size:13px}
.legend i{display:inline-block;width:14px;height:3px;margin-right:4px;vertical-align:middle}
svg text{font-size:10px;fill:#444}
</style></head><body>
<h1>flexrec testbed: credit assignment on a CPU</h1>
<p>{{.Setup}}</p>
<p>Learning curves: held-out score of the greedy policy against rollouts seen; mean over seeds, shaded ±1 std; dashed: the initial policy.</p>
<div class="legend">{{range .Legend}}<span><i style="background:{{.Color}}"></i>{{.Name}}</span>{{end}}</div>
{{range .Panels}}<h2>{{.Title}}</h2>
{{.Table}}
{{.Comparisons}}
<div class="charts">
{{range .Charts}}<svg width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Title}}">
<text x="{{.L}}" y="14" style="font-size:12px;font-weight:600">{{.Title}}</text>
{{$c := .}}{{range .YTicks}}<line x1="{{$c.L}}" x2="{{$c.R}}" y1="{{.Pos}}" y2="{{.Pos}}" stroke="#eee"/><text x="{{$c.L}}" dx="-4" y="{{.Pos}}" dy="3" text-anchor="end">{{.Label}}</text>
{{end}}{{range .XTicks}}<text x="{{.Pos}}" y="{{$c.B}}" dy="14" text-anchor="middle">{{.Label}}</text>
{{end}}<text x="{{$c.R}}" y="{{$c.B}}" dy="28" text-anchor="end">rollouts</text>
<line x1="{{.L}}" x2="{{.R}}" y1="{{.InitialY}}" y2="{{.InitialY}}" stroke="#888" stroke-dasharray="5 4"/>
{{range .Lines}}<polygon points="{{.Band}}" fill="{{.Color}}" fill-opacity="0.15" stroke="none"/>
<polyline points="{{.Points}}" fill="none" stroke="{{.Color}}" stroke-width="1.6"><title>{{.Name}}</title></polyline>
{{end}}</svg>
{{end}}</div>
{{end}}
<p style="font-size:12px;color:#666">Computed in {{printf "%.1f" .Seconds}} s.</p>
</body></html>
`))
