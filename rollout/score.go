package rollout

import (
	"slices"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/prompt"
	"github.com/flexrec/flexrec/rank"
	"github.com/flexrec/flexrec/rl"
)

// fillPlacement fills the record's permutation, generated flags, tokens and
// item spans from the parse result.
func fillPlacement(rec *Record, ep *prompt.Episode, rendered *prompt.Rendered, res *rank.Result, tokens []llm.Token) {
	n := len(res.Order)
	rec.Permutation = make([]string, n)
	rec.Ranking = make([]int, n)
	rec.Generated = make([]bool, n)
	for p, k := range res.Order {
		rec.Ranking[p] = rendered.Order[k]
		rec.Permutation[p] = ep.Candidates[rec.Ranking[p]].ItemID
		rec.Generated[p] = p < res.NGenerated
	}
	rec.Tokens = make([]Token, len(tokens))
	for t, tok := range tokens {
		text := tok.Text
		if tok.Bytes != nil {
			text = string(tok.Bytes)
		}
		rec.Tokens[t] = Token{Text: text, Logprob: tok.Logprob, ID: tok.ID}
	}
	var aligned []rank.ItemTokens
	if len(tokens) > 0 {
		var err error
		if aligned, err = rank.Align(res, tokens); err != nil {
			rec.AlignError = err.Error()
			aligned = nil
		}
	}
	rec.ItemSpans = make([]ItemSpan, 0, res.NGenerated)
	pos := 0
	for m, it := range res.Items {
		if it.Status != rank.OK {
			continue
		}
		sp := ItemSpan{Position: pos, ItemID: rec.Permutation[pos], ShortID: it.ID,
			Start: it.Start, End: it.End, FirstToken: -1, LastToken: -1}
		if aligned != nil {
			sp.FirstToken, sp.LastToken, sp.Logprob = aligned[m].First, aligned[m].Last, aligned[m].Logprob
		}
		rec.ItemSpans = append(rec.ItemSpans, sp)
		pos++
	}
}

// score computes the group's rewards and advantages into the records.
func (r *Runner) score(recs []Record, gains, variances []float64) error {
	grp, err := rl.NewGroup(r.cfg.RL)
	if err != nil {
		return err
	}
	rollouts := make([]rl.Rollout, len(recs))
	for i := range recs {
		rollouts[i] = rl.Rollout{Permutation: recs[i].Ranking, Repaired: notGenerated(recs[i].Generated)}
	}
	if err := grp.Compute(gains, variances, rollouts); err != nil {
		return err
	}
	for i := range recs {
		rec := &recs[i]
		rec.Gains, rec.Variances = slices.Clone(gains), slices.Clone(variances)
		rec.ItemReward, rec.Cutoff, rec.RewardSwitches = string(r.cfg.RL.ItemReward), r.cfg.RL.Cutoff, r.cfg.RL.Switches()
		rec.ListReward = grp.Rewards()[i]
		rec.ItemRewards = slices.Clone(grp.ItemRewards(i))
		rec.U, rec.C = grp.Uncertainties()[i], grp.Scales()[i]
		rec.Advantage = grp.SequenceAdvantages()[i]
		rec.ItemAdvantages = slices.Clone(grp.ItemAdvantages(i))
		rec.TokenAdvantages = []float64{}
		if len(rec.Tokens) == 0 || rec.AlignError != "" {
			continue
		}
		spans := tokenSpans(rec)
		if rec.TokenAdvantages, err = grp.TokenAdvantagesInto(nil, i, spans, len(rec.Tokens)); err != nil {
			return err
		}
	}
	return nil
}

func notGenerated(gen []bool) []bool {
	out := make([]bool, len(gen))
	for p, g := range gen {
		out[p] = !g
	}
	return out
}

// tokenSpans gives rl the token range of each position. Neighbouring items
// may share a token ("]>["); the shared token goes to the earlier item, so
// spans never overlap.
func tokenSpans(rec *Record) []rl.Span {
	spans := make([]rl.Span, len(rec.Permutation))
	prev := 0
	for _, sp := range rec.ItemSpans {
		first := max(sp.FirstToken, prev)
		last := max(sp.LastToken, first)
		spans[sp.Position] = rl.Span{First: first, Last: last, Generated: true}
		prev = last
	}
	return spans
}
