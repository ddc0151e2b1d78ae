package rank

import (
	"github.com/flexrec/flexrec/llm"
)

// Candidate is one item of the closed set the model ranks.
type Candidate struct {
	// ID is the identifier the prompt shows, without brackets: the short id
	// "1".."N" of the default contract or any string id. Ids should be
	// unique; when two candidates share one, the first gets every mention.
	ID string `json:"id"`
	// Title is the text shown for the item; Parse matches it when a model
	// writes titles instead of ids. Empty titles never match.
	Title string `json:"title,omitempty"`
}

// Status says how Parse read one mention of an item.
type Status uint8

// Mention statuses.
const (
	// OK is the first mention of a candidate.
	OK Status = iota
	// Duplicate is a later mention of a candidate already named; the first
	// mention keeps the place.
	Duplicate
	// Unknown is an id or title that matches no candidate.
	Unknown
	// Ambiguous is a title that matches several candidates equally well.
	Ambiguous
)

// String returns "ok", "duplicate", "unknown" or "ambiguous".
func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Duplicate:
		return "duplicate"
	case Unknown:
		return "unknown"
	case Ambiguous:
		return "ambiguous"
	}
	return "invalid"
}

// MarshalText encodes the status as its String form.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Item is one id (or title) the model wrote in its final ranking.
type Item struct {
	// ID is the candidate's id, or the text written when Status is Unknown
	// or Ambiguous (brackets and quotes removed, full-width forms folded).
	ID string `json:"id"`
	// Cand is the index of the candidate in the slice given to Parse, or -1
	// when Status is Unknown or Ambiguous.
	Cand int `json:"cand"`
	// Start and End give the byte span [Start, End) of the mention in the
	// text: brackets or JSON quotes included, surrounding separators not.
	Start int `json:"start"`
	End   int `json:"end"`
	// Status says whether the mention counts (OK) or was dropped.
	Status Status `json:"status"`
	// ByTitle is true when the item was recognised by its title.
	ByTitle bool `json:"by_title,omitempty"`
}

// Result is the outcome of parsing one answer: a complete permutation of the
// candidates and a report of what the model wrote and what was repaired.
// Parse fills it with the PromptOrder repair; Repair redoes the tail under
// another policy. A Result is not safe for concurrent mutation.
type Result struct {
	// Text is the parsed text; Item spans index into it.
	Text string
	// Cands is the candidate set parsed against (not copied).
	Cands []Candidate
	// Order is the permutation: candidate indices, best first, each exactly
	// once. Order[:NGenerated] were written by the model; the rest were
	// appended by the repair policy and were never generated.
	Order []int
	// NGenerated is the number of leading Order entries the model wrote.
	NGenerated int
	// Policy is the repair policy that produced Order's tail.
	Policy Policy
	// Items lists every mention in the final ranking, in text order,
	// including unknown, ambiguous and duplicate ones.
	Items []Item
	// Unknown lists, in order, the ids and titles that match no candidate.
	Unknown []string
	// Ambiguous lists, in order, the titles that match several candidates.
	Ambiguous []string
	// Duplicates lists the ids of repeated mentions, one entry per repeat.
	Duplicates []string
	// Missing lists the ids of candidates never named, in candidate order.
	Missing []string
	// Truncated is true when the answer was cut short: the text ends in the
	// middle of the list (a dangling separator, an open bracket, an unclosed
	// JSON array or <think> block) or the sample's finish reason said so.
	Truncated bool
	// FormatOK is true when the answer kept the prompt's output contract
	// (see Parser.JSON): the ranking is its last line, bracketed ASCII ids
	// joined by '>', nothing cut. It says nothing about missing or unknown
	// ids; see Valid.
	FormatOK bool
}

// Valid reports whether the answer needed no repair and kept the format:
// every candidate named once, nothing unknown, cut or out of format.
func (r *Result) Valid() bool {
	return r.FormatOK && !r.Truncated && len(r.Unknown)+len(r.Ambiguous)+len(r.Duplicates)+len(r.Missing) == 0
}

// IDs returns the ids of Order, best first.
func (r *Result) IDs() []string {
	ids := make([]string, len(r.Order))
	for i, c := range r.Order {
		ids[i] = r.Cands[c].ID
	}
	return ids
}

// Parser parses answers reusing its buffers, so a loop over many answers
// allocates little. The zero value is ready to use and expects the default
// line contract. A Parser is not safe for concurrent use; use one per
// goroutine.
type Parser struct {
	// JSON says the prompt asked for structured output: FormatOK then means
	// the answer is one JSON value holding the ranking as an array of ids or
	// of objects with an "id" key, instead of the `[a] > [b]` line.
	JSON bool

	n        int
	numeric  bool
	norm     []byte
	items    []rawItem
	segs     []segment
	parts    []span
	masks    []span
	key      []byte
	idx      map[string]int
	idxIDs   []string
	nt       []byte
	ntOff    []int
	ntTitles []string
	ntMax    int
	ntReady  bool
	seen     []uint32
	stamp    uint32
}

// Parse reads the model's final ranking from text and returns a complete
// permutation of cands with a report. It never fails: an answer without any
// recognisable ranking yields every candidate as missing, in prompt order.
// It is safe for concurrent use; see Parser for a reusable, allocation-light
// variant.
func Parse(text string, cands []Candidate) *Result {
	var p Parser
	return p.Parse(text, cands)
}

// ParseSample parses a sample's text like Parse and also marks the result
// truncated when the sample stopped on its length limit (finish reason
// "length" or "max_tokens"). It is safe for concurrent use.
func ParseSample(s *llm.Sample, cands []Candidate) *Result {
	var p Parser
	return p.ParseSample(s, cands)
}

// ParseSample is the package-level ParseSample using p's buffers.
func (p *Parser) ParseSample(s *llm.Sample, cands []Candidate) *Result {
	res := new(Result)
	p.parse(res, s.Text, cands, s.FinishReason == "length" || s.FinishReason == "max_tokens")
	return res
}

// Parse is the package-level Parse using p's buffers.
func (p *Parser) Parse(text string, cands []Candidate) *Result {
	res := new(Result)
	p.parse(res, text, cands, false)
	return res
}

// ParseInto is Parse writing into res, reusing its slices; res's previous
// contents are lost. Once p's and res's buffers have grown to the answers'
// size, a parse allocates only for unknown ids written with full-width forms
// and when the candidate ids change (string ids only).
func (p *Parser) ParseInto(res *Result, text string, cands []Candidate) {
	p.parse(res, text, cands, false)
}

// parse is the workhorse behind every Parse variant.
func (p *Parser) parse(res *Result, text string, cands []Candidate, cut bool) {
	p.n = len(cands)
	p.index(cands)
	if p.items == nil { // a fresh Parser: size the scratch for a typical answer
		p.items, p.segs, p.parts = make([]rawItem, 0, 2*len(cands)+16), make([]segment, 0, 16), make([]span, 0, len(cands)+8)
	}
	sc := scanner{p: p, text: text, cands: cands}
	sc.run()
	reset(res, text, cands)
	seg := p.choose()
	if seg != nil {
		p.fill(res, seg)
		res.FormatOK = sc.formatOK(seg)
		cut = cut || seg.cut
	} else if sc.thinkOpen || sc.endsCut() {
		cut = true
	}
	res.Truncated = cut || sc.thinkOpen
	res.FormatOK = res.FormatOK && !res.Truncated
	p.repairDefault(res)
}

func reset(res *Result, text string, cands []Candidate) {
	if cap(res.Order) < len(cands) {
		res.Order = make([]int, 0, len(cands)) // sized once: appends never grow it
	}
	if cap(res.Items) < len(cands) {
		res.Items = make([]Item, 0, len(cands))
	}
	*res = Result{
		Text: text, Cands: cands,
		Order: res.Order[:0], Items: res.Items[:0],
		Unknown: res.Unknown[:0], Ambiguous: res.Ambiguous[:0],
		Duplicates: res.Duplicates[:0], Missing: res.Missing[:0],
	}
}

// choose picks the final ranking among the segments found: the last one
// that looks like a ranking. A segment cut at the end of the text wins when
// it names a candidate. Otherwise a segment qualifies with at least two
// distinct candidates (one when no segment has two), and a weak one (comma
// list, unmarked lines) also needs half as many as the best segment.
func (p *Parser) choose() *segment {
	best := 0
	for i := range p.segs {
		s := &p.segs[i]
		s.known = p.distinct(s)
		best = max(best, s.known)
	}
	if n := len(p.segs); n > 0 && p.segs[n-1].cut && p.segs[n-1].known > 0 {
		return &p.segs[n-1]
	}
	for i := len(p.segs) - 1; i >= 0; i-- {
		s := &p.segs[i]
		switch {
		case best == 0 && (s.strong || s.idish):
			return s
		case best > 0 && s.known >= min(best, 2) && (s.strong || 2*s.known >= best):
			return s
		}
	}
	return nil
}

// distinct counts the distinct candidates a segment names.
func (p *Parser) distinct(s *segment) int {
	p.nextStamp()
	k := 0
	for _, it := range p.items[s.lo:s.hi] {
		if it.cand >= 0 && p.seen[it.cand] != p.stamp {
			p.seen[it.cand] = p.stamp
			k++
		}
	}
	return k
}

func (p *Parser) nextStamp() {
	if len(p.seen) < p.n {
		p.seen = make([]uint32, p.n)
		p.stamp = 0
	}
	p.stamp++
	if p.stamp == 0 {
		clear(p.seen)
		p.stamp = 1
	}
}

// fill copies the chosen segment's mentions into res and sorts them into
// the report's lists.
func (p *Parser) fill(res *Result, seg *segment) {
	p.nextStamp()
	for _, it := range p.items[seg.lo:seg.hi] {
		item := Item{Cand: it.cand, Start: it.start, End: it.end, ByTitle: it.title}
		switch {
		case it.cand == ambiguous:
			item.Cand, item.Status, item.ID = -1, Ambiguous, p.written(res.Text, it)
			res.Ambiguous = append(res.Ambiguous, item.ID)
		case it.cand < 0:
			item.Cand, item.Status, item.ID = -1, Unknown, p.written(res.Text, it)
			res.Unknown = append(res.Unknown, item.ID)
		case p.seen[it.cand] == p.stamp:
			item.Status, item.ID = Duplicate, res.Cands[it.cand].ID
			res.Duplicates = append(res.Duplicates, item.ID)
		default:
			p.seen[it.cand] = p.stamp
			item.ID = res.Cands[it.cand].ID
			res.Order = append(res.Order, it.cand)
		}
		res.Items = append(res.Items, item)
	}
}

// written returns the text of an unmatched mention, full-width forms folded.
func (p *Parser) written(text string, it rawItem) string {
	if it.title {
		return text[it.idLo:it.idHi]
	}
	k := p.norm[it.idLo:it.idHi]
	if hasFill(k) || string(k) != text[it.idLo:it.idHi] {
		return string(compact(nil, k))
	}
	return text[it.idLo:it.idHi]
}

// repairDefault completes Order in prompt order and lists the missing ids.
func (p *Parser) repairDefault(res *Result) {
	res.NGenerated = len(res.Order)
	res.Policy = PromptOrder
	if len(res.Order) == 0 {
		p.nextStamp() // fill did not run: nothing is seen yet
	}
	for i, c := range res.Cands {
		if p.seen[i] != p.stamp {
			res.Order = append(res.Order, i)
			res.Missing = append(res.Missing, c.ID)
		}
	}
}
