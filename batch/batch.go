// Package batch runs rollouts through batch inference engines: the OpenAI
// Batch API and any engine that reads its file format (`vllm run-batch`).
// It owns the batch folder: request files written from the same render
// path as the online rollouts (Prepare), their submission and download
// through the Files and Batches APIs (Submit, Status, Collect, resumable
// through a state file), and the turn of the answers into a rollouts file
// identical to the online path's (Ingest, which is rollout.Run over a
// backend that answers from the output files).
package batch

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/flexrec/flexrec/llm"
	"github.com/flexrec/flexrec/rollout"
)

// ChatCompletionsURL is the url of every request line: OpenAI's batch
// endpoint for chat completions.
const ChatCompletionsURL = "/v1/chat/completions"

// OpenAI's limits on one batch input file.
const (
	// MaxRequestsPerFile is the most request lines in one file.
	MaxRequestsPerFile = 50_000
	// MaxBytesPerFile is the largest input file, in bytes.
	MaxBytesPerFile = 200 << 20
)

// Codec turns a request into the exact body the online path sends and an
// answer body into the Response the online path returns; *llm.OpenAI is
// one (RequestBody, ParseResponse).
type Codec interface {
	// RequestBody returns the JSON body of req.
	RequestBody(req *llm.Request) ([]byte, error)
	// ParseResponse converts a chat completion body answering req.
	ParseResponse(req *llm.Request, body []byte) (*llm.Response, error)
}

// Line is one request of a batch input file.
type Line struct {
	// CustomID names the episode and the rollout (see CustomID).
	CustomID string `json:"custom_id"`
	// Method is "POST".
	Method string `json:"method"`
	// URL is ChatCompletionsURL.
	URL string `json:"url"`
	// Body is the request body, byte for byte what the online path sends.
	Body json.RawMessage `json:"body"`
}

// Output is one line of a batch output or error file, as OpenAI and
// `vllm run-batch` write it: a response (any HTTP status) or an error.
type Output struct {
	// ID is the engine's id of the line; unused.
	ID string `json:"id"`
	// CustomID is the request's custom_id.
	CustomID string `json:"custom_id"`
	// Response is the HTTP answer; nil when the request never ran.
	Response *OutputResponse `json:"response"`
	// Error says why the request failed; nil when it did not.
	Error *OutputError `json:"error"`
}

// OutputResponse is the HTTP answer to one batch request.
type OutputResponse struct {
	// StatusCode is the HTTP status; only 200 answers become rollouts.
	StatusCode int `json:"status_code"`
	// RequestID is the engine's request id; unused.
	RequestID string `json:"request_id"`
	// Body is the chat completion (or the error object of a non-200).
	Body json.RawMessage `json:"body"`
}

// OutputError is a request that failed in the engine.
type OutputError struct {
	// Code and Message are the engine's words.
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ok reports whether the line holds a usable answer.
func (o *Output) ok() bool {
	return o.Error == nil && o.Response != nil && o.Response.StatusCode == 200 && len(o.Response.Body) > 0
}

// problem says why a line holds no usable answer.
func (o *Output) problem() string {
	switch {
	case o.Error != nil:
		return fmt.Sprintf("engine error %s: %s", o.Error.Code, o.Error.Message)
	case o.Response == nil:
		return "no response"
	case o.Response.StatusCode != 200:
		return fmt.Sprintf("HTTP %d: %s", o.Response.StatusCode, truncate(string(o.Response.Body), 300))
	}
	return "empty body"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// CustomID names rollout i of an episode: the episode id, "#", and i.
// Episode ids may hold any character; the index is after the last "#".
func CustomID(episodeID string, i int) string {
	return episodeID + "#" + strconv.Itoa(i)
}

// ParseCustomID splits a CustomID into the episode id and the rollout.
func ParseCustomID(id string) (string, int, error) {
	k := strings.LastIndexByte(id, '#')
	if k < 0 {
		return "", 0, fmt.Errorf("batch: custom_id %q: want EPISODE#ROLLOUT", id)
	}
	i, err := strconv.Atoi(id[k+1:])
	if err != nil || i < 0 {
		return "", 0, fmt.Errorf("batch: custom_id %q: want EPISODE#ROLLOUT", id)
	}
	return id[:k], i, nil
}

// requestID returns the CustomID of a rollout request: the episode comes
// from req.Subject, the rollout index from the seed, which rollout.Seed
// derives from the base seed, the episode id and the index.
func requestID(req *llm.Request, base int64) (string, error) {
	if req.Subject == nil || req.Subject.Episode == nil || req.Seed == nil {
		return "", fmt.Errorf("batch: request without an episode or a seed: not a rollout request")
	}
	id := req.Subject.Episode.ID
	i := (*req.Seed - rollout.Seed(base, id, 0)) & 0x7fffffff
	return CustomID(id, int(i)), nil
}
