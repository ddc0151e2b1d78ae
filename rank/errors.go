package rank

import (
	"errors"
	"fmt"
)

// ErrRejected is the sentinel under every *RejectError: the Reject policy
// refused an answer that named unknown, ambiguous or duplicate ids or left
// candidates out.
var ErrRejected = errors.New("rank: answer rejected")

// ErrUnknownPolicy is returned (wrapped, with the name) for a repair policy
// other than PromptOrder, ByScore and Reject.
var ErrUnknownPolicy = errors.New("rank: unknown repair policy")

// ErrScores is returned (wrapped, with both lengths) when the ByScore policy
// gets a score slice that is not index-aligned with the candidates.
var ErrScores = errors.New("rank: scores not aligned with candidates")

// RejectError says why the Reject policy refused an answer. Each field
// counts occurrences in the parsed answer. It unwraps to ErrRejected.
type RejectError struct {
	// Missing counts candidates the answer never named.
	Missing int
	// Unknown counts ids or titles that match no candidate.
	Unknown int
	// Ambiguous counts titles that match several candidates.
	Ambiguous int
	// Duplicates counts repeated mentions of a candidate after its first.
	Duplicates int
}

// Error describes the counts.
func (e *RejectError) Error() string {
	return fmt.Sprintf("rank: answer rejected: %d missing, %d unknown, %d ambiguous, %d duplicate ids",
		e.Missing, e.Unknown, e.Ambiguous, e.Duplicates)
}

// Unwrap returns ErrRejected.
func (e *RejectError) Unwrap() error { return ErrRejected }

// AlignError reports that the tokens given to Align do not reproduce the
// parsed text byte for byte, so no token range can be trusted.
type AlignError struct {
	// Token is the index of the first token that disagrees with the text,
	// or len(tokens) when the tokens end before the text does.
	Token int
	// Offset is the byte offset in the text where the disagreement starts.
	Offset int
	// TextLen is the length of the text in bytes.
	TextLen int
	// Tokens is the number of tokens given.
	Tokens int
}

// Error names the token and the byte offset.
func (e *AlignError) Error() string {
	if e.Token >= e.Tokens {
		return fmt.Sprintf("rank: tokens do not reproduce the text: the %d tokens end at byte %d of %d", e.Tokens, e.Offset, e.TextLen)
	}
	if e.Offset >= e.TextLen {
		return fmt.Sprintf("rank: tokens do not reproduce the text: token %d runs past its end (%d bytes)", e.Token, e.TextLen)
	}
	return fmt.Sprintf("rank: tokens do not reproduce the text: token %d disagrees at byte %d of %d", e.Token, e.Offset, e.TextLen)
}
