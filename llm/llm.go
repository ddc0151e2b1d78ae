// Package llm samples chat completions with token logprobs from language
// model backends behind one small interface: an OpenAI-compatible client
// (OpenAI, vLLM, OpenRouter, llama.cpp, Ollama's /v1) and Ollama's native
// API. Retries, rate limits and a response cache are decorators that wrap
// any Backend.
package llm

import (
	"context"
	"time"
)

// Backend samples completions. Implementations are safe for concurrent use.
type Backend interface {
	// Sample returns req.N samples (at least one) for the request, or an
	// error. Errors that callers branch on are *StatusError, *AnswerError,
	// ErrUnknownModel and ErrNoLogprobs (see errors.go); IsRetryable tells
	// a transient one.
	Sample(ctx context.Context, req *Request) (*Response, error)
}

// Message is one chat message.
type Message struct {
	// Role is "system", "user" or "assistant".
	Role string `json:"role"`
	// Content is the message text.
	Content string `json:"content"`
}

// Request asks a backend for samples. The zero value of an optional pointer
// field means "the server's default"; a pointer to 0 sends 0.
type Request struct {
	// Model names the model on the server.
	Model string `json:"model"`
	// Messages is the chat, system message first.
	Messages []Message `json:"messages"`
	// N is the number of samples wanted; 0 means 1.
	N int `json:"n,omitempty"`
	// Temperature in [0, 2]; nil leaves the server's default, 0 is greedy.
	Temperature *float64 `json:"temperature,omitempty"`
	// TopP in (0, 1]; nil leaves the server's default.
	TopP *float64 `json:"top_p,omitempty"`
	// Seed makes sampling repeatable where the server supports it; sample i
	// of a fallback to N single requests uses Seed+i.
	Seed *int64 `json:"seed,omitempty"`
	// MaxTokens caps the completion length; 0 means the server's default.
	MaxTokens int `json:"max_tokens,omitempty"`
	// Stop lists stop sequences.
	Stop []string `json:"stop,omitempty"`
	// Logprobs asks for the log probability of every generated token.
	Logprobs bool `json:"logprobs,omitempty"`
	// TopLogprobs asks for up to this many alternatives per token, 0–20.
	TopLogprobs int `json:"top_logprobs,omitempty"`
	// AllowMissingLogprobs lets a sample come back without logprobs when
	// the server ignores the request; otherwise that is ErrNoLogprobs.
	AllowMissingLogprobs bool `json:"-"`
	// JSONSchema, when set, asks for structured output under this schema.
	JSONSchema map[string]any `json:"json_schema,omitempty"`
	// Think turns a reasoning model's thinking on; nil leaves it off.
	Think *bool `json:"think,omitempty"`
	// Subject tells backends that are not language models (the builtin
	// policy) which episode and candidate order the prompt shows. Servers
	// never see it, and it is not part of a cache key.
	Subject *Subject `json:"-"`
}

// Samples returns the number of samples wanted, at least 1.
func (r *Request) Samples() int {
	if r.N < 1 {
		return 1
	}
	return r.N
}

// Alternative is one of the most likely tokens at a position.
type Alternative struct {
	// Text is the token's text; it may be empty.
	Text string `json:"text"`
	// Bytes are the token's UTF-8 bytes when the server gives them.
	Bytes []byte `json:"bytes,omitempty"`
	// Logprob is the natural-log probability.
	Logprob float64 `json:"logprob"`
}

// Token is one generated token with its log probability.
type Token struct {
	// Text is the token's text; it may be empty (or hold a replacement
	// character) when the token is part of a multi-byte character.
	Text string `json:"text"`
	// Bytes are the token's raw bytes when the server gives them; when set
	// they, not Text, define the token's place in the completion text.
	Bytes []byte `json:"bytes,omitempty"`
	// Logprob is the natural-log probability of the token.
	Logprob float64 `json:"logprob"`
	// ID is the token's id in the model's vocabulary when the server gives
	// it (vLLM with return_tokens_as_token_ids writes each token as
	// "token_id:N" and its text as bytes); nil otherwise.
	ID *int `json:"id,omitempty"`
	// Top lists the most likely alternatives, best first.
	Top []Alternative `json:"top,omitempty"`
}

// Usage counts tokens.
type Usage struct {
	// PromptTokens is the number of tokens in the prompt.
	PromptTokens int `json:"prompt_tokens"`
	// CompletionTokens is the number of generated tokens.
	CompletionTokens int `json:"completion_tokens"`
}

// Sample is one completion.
type Sample struct {
	// Text is the completion text.
	Text string `json:"text"`
	// Tokens are the generated tokens; nil when logprobs were not asked for
	// or (with AllowMissingLogprobs) not given.
	Tokens []Token `json:"tokens,omitempty"`
	// FinishReason is "stop", "length" or the server's word.
	FinishReason string `json:"finish_reason"`
	// Usage counts this sample's tokens.
	Usage Usage `json:"usage"`
	// Latency is the wall time of the request that produced the sample.
	Latency time.Duration `json:"latency_ns"`
	// Seed is the seed this sample was drawn with, when known.
	Seed *int64 `json:"seed,omitempty"`
}

// Response holds a request's samples and the server's fingerprint.
type Response struct {
	// Samples has one entry per requested sample.
	Samples []Sample `json:"samples"`
	// Model is the model name the server reported.
	Model string `json:"model"`
	// Fingerprint identifies the server build or model version
	// (system_fingerprint, Ollama's version, a builtin policy's hash).
	Fingerprint string `json:"fingerprint,omitempty"`
	// Cached is true when the response came from the response cache.
	Cached bool `json:"cached,omitempty"`
	// Usage is what the request(s) cost in total: the prompt counted once
	// per HTTP request, every sample's completion tokens.
	Usage Usage `json:"usage"`
}
