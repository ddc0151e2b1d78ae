package llm

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenAITokenIDs reads vLLM's return_tokens_as_token_ids answer: each
// token written "token_id:N" with its text as bytes.
func TestOpenAITokenIDs(t *testing.T) {
	var body map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		require.NoError(t, json.Unmarshal(b, &body))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,
"message":{"role":"assistant","content":"[2] > [1]"},"finish_reason":"stop",
"logprobs":{"content":[
 {"token":"token_id:58","logprob":-0.1,"bytes":[91,50,93]},
 {"token":"token_id:871","logprob":-0.2,"bytes":[32,62,32]},
 {"token":"token_id:16","logprob":-0.3,"bytes":[91,49,93]}]}}],
"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}`))
	}))
	defer srv.Close()
	b, err := NewOpenAI(OpenAIConfig{BaseURL: srv.URL, APIKey: "k", ExtraBody: map[string]any{"return_tokens_as_token_ids": true}})
	require.NoError(t, err)
	temp := 1.0
	resp, err := b.Sample(context.Background(), &Request{Model: "m", Messages: []Message{{Role: "user", Content: "rank"}},
		Temperature: &temp, Logprobs: true})
	require.NoError(t, err)
	assert.Equal(t, true, body["return_tokens_as_token_ids"], "the request asks for ids")
	toks := resp.Samples[0].Tokens
	require.Len(t, toks, 3)
	for i, want := range []struct {
		id   int
		text string
	}{{58, "[2]"}, {871, " > "}, {16, "[1]"}} {
		require.NotNil(t, toks[i].ID, "token %d has its id", i)
		assert.Equal(t, want.id, *toks[i].ID)
		assert.Equal(t, want.text, toks[i].Text, "the text comes from the bytes, not the token_id string")
	}
	_, ok := tokenID("token_idx:3")
	assert.False(t, ok)
}
