// Package batchtest is a loopback fake of the OpenAI API for tests: chat
// completions, and the Files and Batches APIs as OpenAI documents them
// (upload with purpose "batch", create, retrieve, download the output and
// error files). Both paths answer a body with the same completion, so
// online and batch runs can be compared byte for byte.
package batchtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Server is the fake. Its fields may be set before the first request.
type Server struct {
	*httptest.Server
	// Fail names custom_ids a batch answers with an HTTP 500 line in its
	// error file (each only the first time it is run).
	Fail map[string]bool
	// Drop names custom_ids a batch leaves out of both files (each only
	// the first time it is run).
	Drop map[string]bool
	// Chats counts chat completion requests.
	Chats atomic.Int64

	mu      sync.Mutex
	files   map[string][]byte
	batches map[string]*batch
	next    int
}

type batch struct {
	ID               string         `json:"id"`
	Object           string         `json:"object"`
	Endpoint         string         `json:"endpoint"`
	InputFileID      string         `json:"input_file_id"`
	CompletionWindow string         `json:"completion_window"`
	Status           string         `json:"status"`
	OutputFileID     *string        `json:"output_file_id"`
	ErrorFileID      *string        `json:"error_file_id"`
	CreatedAt        int            `json:"created_at"`
	RequestCounts    map[string]int `json:"request_counts"`
	polls            int
	out, errs        []byte
}

// New starts a fake on loopback; Close it when done.
func New() *Server {
	s := &Server{files: map[string][]byte{}, batches: map[string]*batch{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"object": "list", "data": []any{map[string]any{"id": "m", "object": "model"}}})
	})
	mux.HandleFunc("POST /v1/files", s.upload)
	mux.HandleFunc("GET /v1/files/{id}/content", s.content)
	mux.HandleFunc("POST /v1/batches", s.create)
	mux.HandleFunc("GET /v1/batches/{id}", s.retrieve)
	s.Server = httptest.NewServer(mux)
	return s
}

// URL returns the API root, ending in /v1.
func (s *Server) URL() string { return s.Server.URL + "/v1" }

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	s.Chats.Add(1)
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(Answer(body)) // a client gone away is the client's test failure
}

// Answer is the fake's completion for a request body: a ranking of five
// short ids picked by a hash of the body, with a token per piece and its
// logprob, and usage from the body's length. The same body always gets
// the same bytes.
func Answer(body []byte) []byte {
	var req struct {
		Model string `json:"model"`
	}
	_ = json.Unmarshal(body, &req) // a bad body still gets an answer; the caller compares
	h := sha256.Sum256(body)
	ids := []int{1, 2, 3, 4, 5}
	for i := len(ids) - 1; i > 0; i-- {
		j := int(binary.LittleEndian.Uint16(h[2*i:])) % (i + 1)
		ids[i], ids[j] = ids[j], ids[i]
	}
	var text strings.Builder
	var toks []map[string]any
	for k, id := range ids {
		piece := "[" + strconv.Itoa(id) + "]"
		if k > 0 {
			piece = " > " + piece
		}
		text.WriteString(piece)
		toks = append(toks, map[string]any{"token": piece, "logprob": -float64(h[k]) / 256, "top_logprobs": []any{}})
	}
	out, _ := json.Marshal(map[string]any{ // plain maps: cannot fail
		"id": fmt.Sprintf("chatcmpl-%x", h[:6]), "object": "chat.completion", "created": 0, "model": req.Model,
		"system_fingerprint": "fp_fake",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message":  map[string]any{"role": "assistant", "content": text.String()},
			"logprobs": map[string]any{"content": toks}}},
		"usage": map[string]any{"prompt_tokens": len(body) / 4, "completion_tokens": len(toks), "total_tokens": len(body)/4 + len(toks)},
	})
	return out
}

func (s *Server) id(prefix string) string {
	s.next++
	return prefix + strconv.Itoa(s.next)
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(64 << 20); err != nil || r.FormValue("purpose") != "batch" {
		http.Error(w, `{"error":{"message":"want multipart with purpose batch"}}`, http.StatusBadRequest)
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		http.Error(w, `{"error":{"message":"no file"}}`, http.StatusBadRequest)
		return
	}
	data, _ := io.ReadAll(f)
	s.mu.Lock()
	id := s.id("file-")
	s.files[id] = data
	s.mu.Unlock()
	writeJSON(w, map[string]any{"id": id, "object": "file", "bytes": len(data), "created_at": 0,
		"filename": hdr.Filename, "purpose": "batch", "status": "processed"})
}

func (s *Server) content(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	data, ok := s.files[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		http.Error(w, `{"error":{"message":"no such file"}}`, http.StatusNotFound)
		return
	}
	_, _ = w.Write(data) // as in chat
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		InputFileID      string `json:"input_file_id"`
		Endpoint         string `json:"endpoint"`
		CompletionWindow string `json:"completion_window"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Endpoint != "/v1/chat/completions" || req.CompletionWindow != "24h" {
		http.Error(w, `{"error":{"message":"bad batch request"}}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	input, ok := s.files[req.InputFileID]
	if !ok {
		http.Error(w, `{"error":{"message":"no such file"}}`, http.StatusNotFound)
		return
	}
	b := &batch{ID: s.id("batch_"), Object: "batch", Endpoint: req.Endpoint, InputFileID: req.InputFileID,
		CompletionWindow: req.CompletionWindow, Status: "validating"}
	b.RequestCounts = s.run(b, input)
	s.batches[b.ID] = b
	writeJSON(w, b)
}

// run answers every line of input into b's output and error files.
func (s *Server) run(b *batch, input []byte) map[string]int {
	counts := map[string]int{}
	for line := range bytes.Lines(input) {
		var l struct {
			CustomID string          `json:"custom_id"`
			Body     json.RawMessage `json:"body"`
		}
		if json.Unmarshal(line, &l) != nil {
			continue
		}
		counts["total"]++
		switch {
		case s.Drop[l.CustomID]:
			delete(s.Drop, l.CustomID)
		case s.Fail[l.CustomID]:
			delete(s.Fail, l.CustomID)
			counts["failed"]++
			b.errs = appendLine(b.errs, l.CustomID, 500, []byte(`{"error":{"message":"server error"}}`))
		default:
			counts["completed"]++
			b.out = appendLine(b.out, l.CustomID, 200, Answer(l.Body))
		}
	}
	return counts
}

func appendLine(dst []byte, id string, code int, body []byte) []byte {
	line, _ := json.Marshal(map[string]any{"id": "batch_req_" + id, "custom_id": id, // plain maps: cannot fail
		"response": map[string]any{"status_code": code, "request_id": "req_" + id, "body": json.RawMessage(body)}, "error": nil})
	return append(append(dst, line...), '\n')
}

// retrieve moves a batch on one step per call: validating, in_progress,
// completed (with its files stored).
func (s *Server) retrieve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.batches[r.PathValue("id")]
	if !ok {
		http.Error(w, `{"error":{"message":"no such batch"}}`, http.StatusNotFound)
		return
	}
	b.polls++
	switch {
	case b.polls == 1:
		b.Status = "in_progress"
	case b.Status != "completed":
		b.Status = "completed"
		if len(b.out) > 0 {
			id := s.id("file-")
			s.files[id], b.OutputFileID = b.out, &id
		}
		if len(b.errs) > 0 {
			id := s.id("file-")
			s.files[id], b.ErrorFileID = b.errs, &id
		}
	}
	writeJSON(w, b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v) // as in chat
}
