package rank

// Report is the JSON form of a Result, as `flexrec parse` prints it. Lists
// are never nil, so they encode as [] rather than null.
type Report struct {
	// Permutation lists every candidate id, best first, repaired.
	Permutation []string `json:"permutation"`
	// Generated lists the ids the model wrote, in order, unknown and
	// duplicate ones included (unknown ones as written).
	Generated []string `json:"generated"`
	// Unknown lists the ids and titles that match no candidate.
	Unknown []string `json:"unknown"`
	// Ambiguous lists the titles that match several candidates.
	Ambiguous []string `json:"ambiguous"`
	// Duplicates lists the ids of repeated mentions, one per repeat.
	Duplicates []string `json:"duplicates"`
	// Missing lists the candidates never named, in candidate order.
	Missing []string `json:"missing"`
	// Truncated is true when the answer was cut short.
	Truncated bool `json:"truncated"`
	// FormatOK is true when the answer kept the output contract.
	FormatOK bool `json:"format_ok"`
	// Valid is true when no repair was needed and the format was kept.
	Valid bool `json:"valid"`
	// NGenerated is the number of leading permutation entries the model
	// wrote; the rest were appended by Policy.
	NGenerated int `json:"n_generated"`
	// Policy is the repair policy that completed the permutation.
	Policy Policy `json:"policy"`
	// Spans gives, per Generated entry, its byte span [start, end) in the
	// text, brackets included.
	Spans [][2]int `json:"spans"`
}

// Report returns r's JSON form. It allocates; the hot path reads the
// Result's fields directly.
func (r *Result) Report() Report {
	rep := Report{
		Permutation: r.IDs(),
		Generated:   make([]string, len(r.Items)),
		Unknown:     nonNil(r.Unknown),
		Ambiguous:   nonNil(r.Ambiguous),
		Duplicates:  nonNil(r.Duplicates),
		Missing:     nonNil(r.Missing),
		Truncated:   r.Truncated,
		FormatOK:    r.FormatOK,
		Valid:       r.Valid(),
		NGenerated:  r.NGenerated,
		Policy:      r.Policy,
		Spans:       make([][2]int, len(r.Items)),
	}
	for i, it := range r.Items {
		rep.Generated[i], rep.Spans[i] = it.ID, [2]int{it.Start, it.End}
	}
	return rep
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
