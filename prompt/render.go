package prompt

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"text/template"
)

// Message is one chat message of a rendered prompt.
type Message struct {
	// Role is "system" or "user".
	Role string `json:"role"`
	// Content is the message text.
	Content string `json:"content"`
}

// Options controls rendering. The zero value is not valid; start from
// DefaultOptions.
type Options struct {
	// HistoryBudget is the most history items shown, most recent first;
	// the prompt says how many older ones were left out. Default 50; 0
	// shows none.
	HistoryBudget int
	// MaxTextLen caps every item text, in runes (see Sanitize). Default 120.
	MaxTextLen int
	// ShowEngagement shows the user's rating or watch ratio of each history
	// item. Default true.
	ShowEngagement bool
	// Shuffle lists the candidates in a seeded random order per rollout
	// (method.md §1); false keeps the episode's order. Default true.
	Shuffle bool
	// Template is the message template; nil means DefaultTemplate.
	Template *Template
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{HistoryBudget: 50, MaxTextLen: DefaultMaxTextLen, ShowEngagement: true, Shuffle: true}
}

// Validate reports an invalid option.
func (o Options) Validate() error {
	if o.HistoryBudget < 0 {
		return fmt.Errorf("prompt: history budget %d, want >= 0", o.HistoryBudget)
	}
	if o.MaxTextLen < 0 {
		return fmt.Errorf("prompt: max text length %d, want >= 0", o.MaxTextLen)
	}
	return nil
}

// Rendered is an episode's prompt for one rollout, with the mapping from the
// short ids the model sees back to the episode's candidates.
type Rendered struct {
	// Messages are the system and the user message.
	Messages []Message `json:"messages"`
	// Order maps short ids to candidates: the item shown as [k+1] is
	// Episode.Candidates[Order[k]].
	Order []int `json:"order"`
	// Titles[k] is the sanitised text shown for [k+1].
	Titles []string `json:"titles"`
}

// IDs returns the short ids "1".."N" in display order, without brackets.
func (r *Rendered) IDs() []string {
	ids := make([]string, len(r.Order))
	for k := range ids {
		ids[k] = strconv.Itoa(k + 1)
	}
	return ids
}

// JSONSchema returns a JSON schema for servers with structured outputs: an
// array of exactly N distinct strings, each one of the short ids.
func (r *Rendered) JSONSchema() map[string]any {
	n := len(r.Order)
	return map[string]any{
		"type":        "array",
		"items":       map[string]any{"type": "string", "enum": r.IDs()},
		"minItems":    n,
		"maxItems":    n,
		"uniqueItems": true,
	}
}

// Render builds the chat messages for one rollout of an episode. It is a
// pure function of its inputs: the same episode, need, options and seed
// give the same messages and mapping. Item texts pass through Sanitize.
func Render(ep *Episode, need *Need, opts Options, seed int64) (*Rendered, error) {
	order, err := DisplayOrder(ep, opts, seed)
	if err != nil {
		return nil, err
	}
	tpl := opts.Template
	if tpl == nil {
		tpl = DefaultTemplate()
	}
	data := templateData(ep, need, opts, order)
	sys, err := tpl.execute(tpl.system, data)
	if err != nil {
		return nil, err
	}
	user, err := tpl.execute(tpl.user, data)
	if err != nil {
		return nil, err
	}
	titles := make([]string, len(order))
	for k, c := range data.Candidates {
		titles[k] = c.Text
	}
	return &Rendered{
		Messages: []Message{{Role: "system", Content: sys}, {Role: "user", Content: user}},
		Order:    order,
		Titles:   titles,
	}, nil
}

// DisplayOrder returns the order in which Render lists ep's candidates
// under opts and seed, without rendering: the item shown as [k+1] is
// ep.Candidates[order[k]], exactly Render's Rendered.Order. It checks ep
// and opts as Render does and returns the same errors; the need and the
// template do not change the order. Cost O(N) for N candidates.
func DisplayOrder(ep *Episode, opts Options, seed int64) ([]int, error) {
	if err := ep.Validate(); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return candidateOrder(len(ep.Candidates), opts.Shuffle, seed), nil
}

// candidateOrder returns the display order: a seeded permutation of 0..n-1
// (PCG seeded with seed), or the identity when shuffle is false.
func candidateOrder(n int, shuffle bool, seed int64) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if shuffle {
		rng := rand.New(rand.NewPCG(uint64(seed), 0x666c6578726563))
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	return order
}

// TemplateCandidate is one candidate line's data in a template.
type TemplateCandidate struct {
	// ID is the short id without brackets.
	ID string
	// Text is the sanitised item text.
	Text string
	// Info is the side information the need shows, e.g.
	// "genres: Comedy, Drama; 12 ratings in the last 30 days"; may be empty.
	Info string
}

// TemplateHistory is one history line's data in a template.
type TemplateHistory struct {
	// Text is the sanitised item text.
	Text string
	// Info is "genres: ...; rated 4.5", as the options allow; may be empty.
	Info string
}

// TemplateData is what a template sees.
type TemplateData struct {
	// NeedName and Instruction come from the need.
	NeedName, Instruction string
	// Query is the search query, sanitised; empty for other needs.
	Query string
	// History is the shown history, most recent first.
	History []TemplateHistory
	// Omitted is how many older history items were left out.
	Omitted int
	// Candidates are the candidates in display order.
	Candidates []TemplateCandidate
	// N is the number of candidates.
	N int
	// Example is an example answer line for the output contract.
	Example string
}

func templateData(ep *Episode, need *Need, opts Options, order []int) *TemplateData {
	d := &TemplateData{
		NeedName: need.Name, Instruction: need.Instruction,
		Query: Sanitize(ep.Query, opts.MaxTextLen), N: len(order),
		Example: exampleAnswer(len(order)),
	}
	if d.NeedName == "" {
		d.NeedName = need.ID
	}
	shown := min(opts.HistoryBudget, len(ep.History))
	d.Omitted = len(ep.History) - shown
	for i := len(ep.History) - 1; i >= len(ep.History)-shown; i-- {
		h := ep.History[i]
		var info []string
		if len(h.Categories) > 0 {
			info = append(info, "genres: "+sanitizeList(h.Categories, opts.MaxTextLen))
		}
		if opts.ShowEngagement && h.Engagement != 0 {
			info = append(info, "rated "+strconv.FormatFloat(h.Engagement, 'g', 3, 64))
		}
		d.History = append(d.History, TemplateHistory{Text: Sanitize(h.Text, opts.MaxTextLen), Info: strings.Join(info, "; ")})
	}
	for k, idx := range order {
		c := ep.Candidates[idx]
		d.Candidates = append(d.Candidates, TemplateCandidate{
			ID: strconv.Itoa(k + 1), Text: Sanitize(c.Text, opts.MaxTextLen), Info: sideInfo(&c, need),
		})
	}
	return d
}

// sideInfo renders the side information the need shows for a candidate.
func sideInfo(c *Candidate, need *Need) string {
	var info []string
	if need.Shows("categories") && len(c.Categories) > 0 {
		info = append(info, "genres: "+sanitizeList(c.Categories, 0))
	}
	if need.Shows("popularity") {
		info = append(info, fmt.Sprintf("%g interactions in total", c.Popularity))
	}
	if need.Shows("recent_popularity") {
		info = append(info, fmt.Sprintf("%g interactions in the last %g days", c.RecentPopularity, float64(need.Gain.Window())/86400))
	}
	return strings.Join(info, "; ")
}

func sanitizeList(items []string, maxLen int) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = Sanitize(s, maxLen)
	}
	return strings.Join(out, ", ")
}

// exampleAnswer shows the answer format on made-up ids, e.g.
// "[3] > [1] > [2]" for n = 3, or a shortened form for larger n.
func exampleAnswer(n int) string {
	switch {
	case n <= 1:
		return "[1]"
	case n == 2:
		return "[2] > [1]"
	case n == 3:
		return "[3] > [1] > [2]"
	}
	return fmt.Sprintf("[3] > [1] > ... > [%d] > [2]", n)
}

// Template holds the message templates (Go text/template syntax over
// TemplateData). Build one with DefaultTemplate, ParseTemplate or
// LoadTemplate. A Template is immutable and safe for concurrent use.
type Template struct {
	system, user *template.Template
}

func (t *Template) execute(tpl *template.Template, data *TemplateData) (string, error) {
	var b bytes.Buffer
	if err := tpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("prompt: render template %s: %w", tpl.Name(), err)
	}
	return strings.TrimSpace(b.String()), nil
}
