package eval

import (
	"fmt"
	"html/template"
	"io"
	"math"
)

// palette colours the rankers of a report, in order (cycled past eight).
var palette = [...]string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"}

// Chart geometry, in SVG user units.
const (
	chartW, chartH        = 760.0, 240.0
	marginL, marginR      = 48.0, 12.0
	marginTop, marginBott = 12.0, 28.0
)

// svgBar is one bar with its interval whisker.
type svgBar struct {
	X, Y, W, H    float64
	Color, Title  string
	CX, Low, High float64 // whisker x and the y of its ends
	CapL, CapR    float64 // x range of the whisker caps
	HasWhisker    bool
}

// svgTick is one horizontal grid line with its value.
type svgTick struct {
	Y     float64
	Label string
}

// svgGroup labels the bars of one need.
type svgGroup struct {
	X     float64
	Label string
}

// svgChart is one measure across rankers and needs.
type svgChart struct {
	Title         string
	Width, Height float64
	Bottom, Left  float64
	Right         float64
	Bars          []svgBar
	Ticks         []svgTick
	Groups        []svgGroup
}

// htmlPage is the data of the report template.
type htmlPage struct {
	Report  *Report
	Legend  []svgBar
	Charts  []svgChart
	Caption string
	LLM     bool
}

// WriteHTML writes the report as one self-contained HTML page: a bar chart
// per measure (inline SVG, one group of bars per need, one bar per ranker,
// whiskers at the interval bounds) and the table of WriteMarkdown. It
// loads no script, style sheet or font, so it opens offline.
func WriteHTML(w io.Writer, rep *Report) error {
	page := htmlPage{Report: rep, LLM: rep.hasLLM(),
		Caption: fmt.Sprintf("Means over episodes with %g%% bootstrap intervals (%d resamples, seed %d).", rep.Confidence*100, rep.Resamples, rep.Seed)}
	rankers, needs := axes(rep)
	for k, name := range rankers {
		page.Legend = append(page.Legend, svgBar{Color: palette[k%len(palette)], Title: name})
	}
	for m, name := range rep.Measures {
		page.Charts = append(page.Charts, buildChart(rep, m, name, rankers, needs))
	}
	if err := reportTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("eval: write html: %w", err)
	}
	return nil
}

// axes returns the rankers and needs of the report in order of appearance.
func axes(rep *Report) ([]string, []string) {
	var rankers, needs []string
	seenR, seenN := map[string]bool{}, map[string]bool{}
	for _, r := range rep.Rows {
		if !seenR[r.Ranker] {
			seenR[r.Ranker] = true
			rankers = append(rankers, r.Ranker)
		}
		if !seenN[r.Need] {
			seenN[r.Need] = true
			needs = append(needs, r.Need)
		}
	}
	return rankers, needs
}

// buildChart lays out the bars of measure m.
func buildChart(rep *Report, m int, name string, rankers, needs []string) svgChart {
	top := 0.0
	for _, r := range rep.Rows {
		top = max(top, r.Metrics[m].High, r.Metrics[m].Mean)
	}
	top = niceCeil(top)
	c := svgChart{Title: name, Width: chartW, Height: chartH, Left: marginL, Right: chartW - marginR, Bottom: chartH - marginBott}
	plotH := c.Bottom - marginTop
	y := func(v float64) float64 { return c.Bottom - plotH*math.Max(v, 0)/top }
	for t := 0; t <= 4; t++ {
		v := top * float64(t) / 4
		c.Ticks = append(c.Ticks, svgTick{Y: y(v), Label: formatValue(v)})
	}
	groupW := (c.Right - c.Left) / float64(len(needs))
	barW := groupW * 0.8 / float64(len(rankers))
	for g, need := range needs {
		x0 := c.Left + float64(g)*groupW + groupW*0.1
		c.Groups = append(c.Groups, svgGroup{X: x0 + groupW*0.4, Label: need})
		for k, rk := range rankers {
			row, ok := rep.Row(rk, need)
			if !ok {
				continue
			}
			s := row.Metrics[m]
			b := svgBar{X: x0 + float64(k)*barW, W: barW * 0.9, Y: y(s.Mean), Color: palette[k%len(palette)],
				Title: fmt.Sprintf("%s, %s: %s", rk, need, formatStat(s))}
			b.H = c.Bottom - b.Y
			b.CX = b.X + b.W/2
			b.Low, b.High, b.HasWhisker = y(s.Low), y(s.High), s.Low != s.High
			b.CapL, b.CapR = b.CX-b.W/4, b.CX+b.W/4
			c.Bars = append(c.Bars, b.rounded())
		}
	}
	return c
}

// rounded returns the bar with its coordinates rounded to 0.01 units, to
// keep the page small.
func (b svgBar) rounded() svgBar {
	for _, v := range []*float64{&b.X, &b.Y, &b.W, &b.H, &b.CX, &b.Low, &b.High, &b.CapL, &b.CapR} {
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

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"stat": formatStat, "value": formatValue, "llmcells": llmCells,
	"ms": func(v float64) string { return fmt.Sprintf("%.3f", v) },
}).Parse(reportHTML))

const reportHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>flexrec eval report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
figure { margin: 0 0 24px; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
.grid { stroke: #ddd; }
.axis { stroke: #888; }
.whisker { stroke: #222; stroke-width: 1.2; }
.legend span { margin-right: 16px; white-space: nowrap; }
table { border-collapse: collapse; margin-top: 16px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; white-space: nowrap; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
</style>
</head>
<body>
<h1>flexrec eval report</h1>
<p>{{.Caption}}</p>
<p class="legend">{{range .Legend}}<span><svg width="12" height="12"><rect width="12" height="12" fill="{{.Color}}"/></svg> {{.Title}}</span>{{end}}</p>
{{range .Charts}}<figure>
<figcaption>{{.Title}}</figcaption>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="{{.Title}}">
{{$c := .}}{{range .Ticks}}<line class="grid" x1="{{$c.Left}}" x2="{{$c.Right}}" y1="{{.Y}}" y2="{{.Y}}"/><text x="{{$c.Left}}" dx="-4" y="{{.Y}}" dy="4" text-anchor="end">{{.Label}}</text>
{{end}}<line class="axis" x1="{{.Left}}" x2="{{.Right}}" y1="{{.Bottom}}" y2="{{.Bottom}}"/>
{{range .Bars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Color}}"><title>{{.Title}}</title></rect>
{{if .HasWhisker}}<line class="whisker" x1="{{.CX}}" x2="{{.CX}}" y1="{{.Low}}" y2="{{.High}}"/><line class="whisker" x1="{{.CapL}}" x2="{{.CapR}}" y1="{{.Low}}" y2="{{.Low}}"/><line class="whisker" x1="{{.CapL}}" x2="{{.CapR}}" y1="{{.High}}" y2="{{.High}}"/>{{end}}
{{end}}{{range .Groups}}<text x="{{.X}}" y="{{$c.Bottom}}" dy="18" text-anchor="middle">{{.Label}}</text>
{{end}}</svg>
</figure>
{{end}}<table>
<tr><th>ranker</th><th>need</th><th>n</th>{{range .Report.Measures}}<th>{{.}}</th>{{end}}<th>ms/rank</th>{{if .LLM}}<th>invalid</th><th>repaired</th><th>tokens in/out</th>{{end}}</tr>
{{$llm := .LLM}}{{range .Report.Rows}}<tr><td>{{.Ranker}}</td><td>{{.Need}}</td><td>{{.Episodes}}</td>{{range .Metrics}}<td>{{stat .}}</td>{{end}}<td>{{ms .LatencyMS}}</td>{{if $llm}}{{range llmcells .LLM}}<td>{{.}}</td>{{end}}{{end}}</tr>
{{end}}</table>
</body>
</html>
`
