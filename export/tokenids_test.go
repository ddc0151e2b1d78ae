package export

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/rollout"
)

func TestNativeRowCarriesTokenIDs(t *testing.T) {
	id := func(i int) *int { return &i }
	rec := rollout.Record{Tokens: []rollout.Token{{Text: "[2]", Logprob: -0.1, ID: id(58)}, {Text: " > ", Logprob: -0.2, ID: id(871)}}}
	row := NativeRowOf(&rec)
	assert.Equal(t, []int64{58, 871}, row.TokenIDs, "every token had its id")
	back, err := row.Record()
	require.NoError(t, err)
	assert.Equal(t, rec.Tokens, back.Tokens, "ids survive the round trip")

	rec.Tokens[1].ID = nil
	assert.Empty(t, NativeRowOf(&rec).TokenIDs, "ids only when the server gave every one")
}
