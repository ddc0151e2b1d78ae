package eval

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// palette colours the rankers of a report, in order (cycled past twelve).
var palette = [...]string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f", "#ff9da7", "#bab0ac", "#17becf", "#8c564b"}

// Chart geometry, in SVG user units; the page scales every chart to the
// width of its grid cell.
const (
	chartW, chartH        = 360.0, 200.0
	marginL, marginR      = 40.0, 8.0
	marginTop, marginBott = 14.0, 8.0
	maxBarLabels          = 10 // value labels above bars up to this many rankers
)

// mainMeasures are the summary table's columns, when the report has them.
var mainMeasures = []string{"ndcg@5", "ndcg@10", "recall@5", "mrr@5", "hit@5"}

// svgBar is one bar with its interval whisker.
type svgBar struct {
	X, Y, W, H    float64
	Color, Title  string
	Label         string  // the mean, printed above the bar; "" for none
	LabelY        float64 // baseline of Label
	CX, Low, High float64 // whisker x and the y of its ends
	CapL, CapR    float64 // x range of the whisker caps
	HasWhisker    bool
}

// svgTick is one horizontal grid line with its value.
type svgTick struct {
	Y     float64
	Label string
}

// svgChart is one measure across the rankers of one need.
type svgChart struct {
	Title         string
	Width, Height float64
	Bottom, Left  float64
	Right         float64
	Bars          []svgBar
	Ticks         []svgTick
}

// legendItem is a ranker's colour.
type legendItem struct {
	Color, Name string
}

// metaItem is one line of the page header.
type metaItem struct {
	Label, Value string
}

// summaryCell is one "mean (low–high)" of the summary table.
type summaryCell struct {
	Mean, Interval string
	Best           bool
}

// summaryRow is one ranker of a need's summary table.
type summaryRow struct {
	Ranker, Color string
	Bound         bool // the oracle: an upper bound, never "best"
	Cells         []summaryCell
}

// needSection is one need: its summary table and its charts.
type needSection struct {
	Need     string
	Episodes int
	Columns  []string
	Summary  []summaryRow
	Charts   []svgChart
}

// htmlPage is the data of the report template.
type htmlPage struct {
	Title    string
	Meta     []metaItem
	LLMs     []llmLine
	Rollouts []metaItem
	Notes    []string
	Legend   []legendItem
	Needs    []needSection
	Report   *Report
	Caption  string
	LLM      bool
}

// WriteHTML writes the report as one self-contained HTML page, in order: a
// header (dataset, needs, episodes, date, flexrec version, the LLM rankers'
// backends, models, invalid and repair rates, tokens and cost, the
// rollouts' statistics, and why rows coincide), then per need a compact
// summary table (rankers × the main measures with intervals, the best mean
// per column in bold, the oracle aside) and a grid of bar charts, one per
// measure (inline SVG, one bar per ranker, whiskers at the interval
// bounds), and last the table of every number. The layout is fluid (CSS
// grid; no fixed width wider than a phone's). It loads no script, style
// sheet or font, so it opens offline.
func WriteHTML(w io.Writer, rep *Report) error {
	rankers, needs := axes(rep)
	page := htmlPage{Report: rep, LLM: rep.hasLLM(), Title: pageTitle(rep.Meta),
		Meta: headerItems(rep, needs), LLMs: llmLines(rep.LLMs), Rollouts: rolloutItems(rep.Meta.Rollouts),
		Caption: caption(rep)}
	for _, id := range rep.Identical {
		page.Notes = append(page.Notes, id.Note())
	}
	for k, name := range rankers {
		page.Legend = append(page.Legend, legendItem{Color: color(k), Name: name})
	}
	for _, need := range needs {
		page.Needs = append(page.Needs, buildNeed(rep, need, rankers))
	}
	if err := reportTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("eval: write html: %w", err)
	}
	return nil
}

// color is the colour of the k-th ranker.
func color(k int) string { return palette[k%len(palette)] }

// caption describes the intervals.
func caption(rep *Report) string {
	return fmt.Sprintf("Means over episodes with %g%% bootstrap intervals (%d resamples, seed %d).", rep.Confidence*100, rep.Resamples, rep.Seed)
}

// pageTitle names the page after the dataset when the caller gave one.
func pageTitle(m Meta) string {
	if m.Dataset == "" {
		return "flexrec report"
	}
	return "flexrec report: " + m.Dataset
}

// axes returns the rankers and needs of the report in order of appearance.
func axes(rep *Report) ([]string, []string) {
	var rankers, needs []string
	for _, r := range rep.Rows {
		if !slices.Contains(rankers, r.Ranker) {
			rankers = append(rankers, r.Ranker)
		}
		if !slices.Contains(needs, r.Need) {
			needs = append(needs, r.Need)
		}
	}
	return rankers, needs
}

// buildNeed lays out one need's summary table and charts.
func buildNeed(rep *Report, need string, rankers []string) needSection {
	sec := needSection{Need: need}
	var rows []*Row
	var colors []string
	for k, rk := range rankers {
		if row, ok := rep.Row(rk, need); ok {
			rows, colors = append(rows, row), append(colors, color(k))
			sec.Episodes = max(sec.Episodes, row.Episodes)
		}
	}
	cols := summaryColumns(rep.Measures)
	for _, m := range cols {
		sec.Columns = append(sec.Columns, rep.Measures[m])
	}
	sec.Summary = summaryRows(rows, colors, cols)
	for m, name := range rep.Measures {
		sec.Charts = append(sec.Charts, buildChart(rows, colors, m, name))
	}
	return sec
}

// summaryColumns returns the indices of the summary table's measures: the
// main measures the report has, else its first five.
func summaryColumns(measures []string) []int {
	var cols []int
	for _, name := range mainMeasures {
		if m := slices.Index(measures, name); m >= 0 {
			cols = append(cols, m)
		}
	}
	if len(cols) == 0 {
		for m := range min(5, len(measures)) {
			cols = append(cols, m)
		}
	}
	return cols
}

// summaryRows fills the summary table, marking per column the rows whose
// printed mean is the highest among the rankers other than the oracle.
func summaryRows(rows []*Row, colors []string, cols []int) []summaryRow {
	out := make([]summaryRow, len(rows))
	for i, row := range rows {
		out[i] = summaryRow{Ranker: row.Ranker, Color: colors[i], Bound: row.Ranker == RankerOracle}
		for _, m := range cols {
			s := row.Metrics[m]
			c := summaryCell{Mean: formatValue(s.Mean)}
			if s.Low != s.High {
				c.Interval = formatValue(s.Low) + "–" + formatValue(s.High)
			}
			out[i].Cells = append(out[i].Cells, c)
		}
	}
	for c, m := range cols {
		best := math.Inf(-1)
		for i, row := range rows {
			if !out[i].Bound {
				best = max(best, shown(row.Metrics[m].Mean))
			}
		}
		for i, row := range rows {
			out[i].Cells[c].Best = !out[i].Bound && shown(row.Metrics[m].Mean) == best
		}
	}
	return out
}

// shown is v as the page prints it, so that equal-looking means tie.
func shown(v float64) float64 {
	f, _ := strconv.ParseFloat(formatValue(v), 64) // formatValue prints a valid float
	return f
}

// buildChart lays out the bars of measure m, one per row.
func buildChart(rows []*Row, colors []string, m int, name string) svgChart {
	top := 0.0
	for _, r := range rows {
		top = max(top, r.Metrics[m].High, r.Metrics[m].Mean)
	}
	top = niceCeil(top)
	c := svgChart{Title: name, Width: chartW, Height: chartH, Left: marginL, Right: chartW - marginR, Bottom: chartH - marginBott}
	plotH := c.Bottom - marginTop
	y := func(v float64) float64 { return c.Bottom - plotH*math.Max(v, 0)/top }
	for t := 0; t <= 4; t++ {
		v := top * float64(t) / 4
		c.Ticks = append(c.Ticks, svgTick{Y: math.Round(y(v)*100) / 100, Label: formatValue(v)})
	}
	slot := (c.Right - c.Left) / float64(max(len(rows), 1))
	for k, row := range rows {
		s := row.Metrics[m]
		b := svgBar{X: c.Left + float64(k)*slot + slot*0.15, W: slot * 0.7, Y: y(s.Mean), Color: colors[k],
			Title: fmt.Sprintf("%s, %s: %s", row.Ranker, row.Need, formatStat(s))}
		b.H = c.Bottom - b.Y
		b.CX = b.X + b.W/2
		b.Low, b.High, b.HasWhisker = y(s.Low), y(s.High), s.Low != s.High
		b.CapL, b.CapR = b.CX-b.W/4, b.CX+b.W/4
		if len(rows) <= maxBarLabels {
			b.Label, b.LabelY = formatValue(s.Mean), math.Max(math.Min(b.Y, b.High)-3, 10)
		}
		c.Bars = append(c.Bars, b.rounded())
	}
	return c
}

// rounded returns the bar with its coordinates rounded to 0.01 units, to
// keep the page small.
func (b svgBar) rounded() svgBar {
	for _, v := range []*float64{&b.X, &b.Y, &b.W, &b.H, &b.CX, &b.Low, &b.High, &b.CapL, &b.CapR, &b.LabelY} {
		*v = math.Round(*v*100) / 100
	}
	return b
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten; 1 for v <= 0.
func niceCeil(v float64) float64 {
	if !(v > 0) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		if f*p >= v {
			return f * p
		}
	}
	return 10 * p
}
