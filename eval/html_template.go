package eval

import (
	"fmt"
	"html/template"
	"strings"
)

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"value": formatValue, "llmcells": llmCells,
	"interval": func(s Stat) string {
		if s.Low == s.High {
			return ""
		}
		return formatValue(s.Low) + "–" + formatValue(s.High)
	},
	"ms":   func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"name": breakable,
}).Parse(reportHTML))

// breakable escapes a ranker or model name for HTML and lets the browser
// break the line after each '/', '-', ':', '_' or '.', so a long model name
// wraps at its parts instead of widening its table or breaking mid-word.
func breakable(s string) template.HTML {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(template.HTMLEscapeString(string(r)))
		if strings.ContainsRune("/-:_.", r) {
			b.WriteString("<wbr>")
		}
	}
	return template.HTML(b.String()) // every part escaped above
}

// reportHTML is the page. Its widths are fluid: the charts fill a CSS grid
// of cells at least 300 px wide, the tables wrap long names, and a table
// that still cannot fit scrolls inside its own box, never the page.
const reportHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
*, *::before, *::after { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; padding: 16px 24px; max-width: 1600px; color: #222; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 4px 24px; margin: 0 0 12px; }
.meta div { min-width: 0; overflow-wrap: break-word; }
.meta dt { display: inline; color: #666; }
.meta dt::after { content: ": "; }
.meta dd { display: inline; margin: 0; font-weight: 600; }
.notes { background: #fff8e1; border-left: 4px solid #edc948; padding: 6px 12px; margin: 12px 0; }
.notes p { margin: 4px 0; }
.scroll { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; margin: 4px 0 12px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; vertical-align: top; }
th { background: #f4f4f4; font-weight: 600; }
th.name, td.name { text-align: left; overflow-wrap: break-word; }
td.best { font-weight: 700; }
tr.bound td { color: #777; font-style: italic; }
.ci { display: block; font-size: 11px; color: #777; font-weight: 400; white-space: nowrap; }
.summary .ci { display: inline; margin-left: 4px; }
.summary td:not(.name) { white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; vertical-align: baseline; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 8px 0; }
.legend span { overflow-wrap: break-word; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px 20px; }
figure { margin: 0; min-width: 0; }
figcaption { font-weight: 600; }
svg.chart { display: block; width: 100%; height: auto; }
svg text { font: 10px system-ui, sans-serif; fill: #333; }
.grid { stroke: #e3e3e3; }
.axis { stroke: #888; }
.whisker { stroke: #222; stroke-width: 1.2; }
.caption { color: #555; }
table.numbers { font-size: 13px; }
table.numbers th, table.numbers td { padding: 2px 4px; }
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<dl class="meta">{{range .Meta}}<div><dt>{{.Label}}</dt><dd>{{.Value}}</dd></div>{{end}}</dl>
{{if .LLMs}}<div class="scroll"><table>
<tr><th class="name">LLM ranker</th><th class="name">backend</th><th class="name">model</th><th>temperature</th><th>episodes</th><th>invalid</th><th>repaired</th><th>tokens in / out</th><th>cost</th></tr>
{{range .LLMs}}<tr><td class="name">{{name .Ranker}}</td><td class="name">{{.Backend}}</td><td class="name">{{name .Model}}</td><td>{{.Temperature}}</td><td>{{.Episodes}}</td><td>{{.Invalid}}</td><td>{{.Repaired}}</td><td>{{.Tokens}}</td><td>{{.Cost}}</td></tr>
{{end}}</table></div>
{{end}}{{if .Rollouts}}<h3>Rollouts</h3>
<dl class="meta">{{range .Rollouts}}<div><dt>{{.Label}}</dt><dd>{{.Value}}</dd></div>{{end}}</dl>
{{end}}{{if .Notes}}<div class="notes">{{range .Notes}}<p>{{.}}</p>{{end}}</div>
{{end}}</header>
<main>
<h2 id="summary">Summary</h2>
<p class="caption">{{.Caption}} Best mean per column in bold; the oracle ranks by the true gains, an upper bound, and is left out of the comparison.</p>
{{range .Needs}}<h3>{{.Need}} <span class="caption">({{.Episodes}} episodes)</span></h3>
<div class="scroll"><table class="summary">
<tr><th class="name">ranker</th>{{range .Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Summary}}<tr{{if .Bound}} class="bound"{{end}}><td class="name"><span class="swatch" style="background: {{.Color}}"></span>{{name .Ranker}}</td>{{range .Cells}}<td{{if .Best}} class="best"{{end}}>{{.Mean}}{{if .Interval}}<span class="ci">({{.Interval}})</span>{{end}}</td>{{end}}</tr>
{{end}}</table></div>
{{end}}<h2 id="charts">Charts</h2>
<p class="legend">{{range .Legend}}<span><span class="swatch" style="background: {{.Color}}"></span>{{.Name}}</span>{{end}}</p>
{{range .Needs}}<h3>{{.Need}}</h3>
<div class="charts">
{{range .Charts}}<figure>
<figcaption>{{.Title}}</figcaption>
<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="{{.Title}}">
{{$c := .}}{{range .Ticks}}<line class="grid" x1="{{$c.Left}}" x2="{{$c.Right}}" y1="{{.Y}}" y2="{{.Y}}"/><text x="{{$c.Left}}" dx="-4" y="{{.Y}}" dy="3" text-anchor="end">{{.Label}}</text>
{{end}}<line class="axis" x1="{{.Left}}" x2="{{.Right}}" y1="{{.Bottom}}" y2="{{.Bottom}}"/>
{{range .Bars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Color}}"><title>{{.Title}}</title></rect>
{{if .HasWhisker}}<line class="whisker" x1="{{.CX}}" x2="{{.CX}}" y1="{{.Low}}" y2="{{.High}}"/><line class="whisker" x1="{{.CapL}}" x2="{{.CapR}}" y1="{{.Low}}" y2="{{.Low}}"/><line class="whisker" x1="{{.CapL}}" x2="{{.CapR}}" y1="{{.High}}" y2="{{.High}}"/>{{end}}
{{if .Label}}<text x="{{.CX}}" y="{{.LabelY}}" text-anchor="middle">{{.Label}}</text>{{end}}
{{end}}</svg>
</figure>
{{end}}</div>
{{end}}<h2 id="numbers">All numbers</h2>
<p class="caption">{{.Caption}} ms/rank is the mean wall time of one ranking.</p>
<div class="scroll"><table class="numbers">
<tr><th class="name">ranker</th><th class="name">need</th><th>n</th>{{range .Report.Measures}}<th>{{.}}</th>{{end}}<th>ms/rank</th>{{if .LLM}}<th>invalid</th><th>repaired</th><th>tokens in/out</th>{{end}}</tr>
{{$llm := .LLM}}{{range .Report.Rows}}<tr><td class="name">{{name .Ranker}}</td><td class="name">{{.Need}}</td><td>{{.Episodes}}</td>{{range .Metrics}}<td>{{value .Mean}}{{with interval .}}<span class="ci">{{.}}</span>{{end}}</td>{{end}}<td>{{ms .LatencyMS}}</td>{{if $llm}}{{range llmcells .LLM}}<td>{{.}}</td>{{end}}{{end}}</tr>
{{end}}</table></div>
</main>
</body>
</html>
`
