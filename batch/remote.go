package batch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	openai "github.com/sashabaranov/go-openai"

	"github.com/flexrec/flexrec/internal/atomicfile"
	"github.com/flexrec/flexrec/llm"
)

// StateName is the file, in the batch folder, that records what Submit,
// Status and Collect did, so each can be run again after a kill.
const StateName = "batch-state.json"

// CompletionWindow is the completion window of every batch.
const CompletionWindow = "24h"

// Batch statuses after which a batch changes no more.
var finalStatuses = map[string]bool{"completed": true, "failed": true, "expired": true, "cancelled": true}

// RemoteConfig configures the Files and Batches API client. Its String
// method never prints the key.
type RemoteConfig struct {
	// BaseURL is the API root ending in /v1. Default llm.DefaultOpenAIBaseURL.
	BaseURL string
	// APIKey is sent as a bearer token; a secret, never logged or written.
	APIKey string
	// HTTPClient sends the requests; nil means llm.DefaultHTTPClient().
	HTTPClient llm.HTTPDoer
}

// String describes the config with the key replaced by a placeholder.
func (c RemoteConfig) String() string {
	key := "<none>"
	if c.APIKey != "" {
		key = "<set>"
	}
	return fmt.Sprintf("RemoteConfig{BaseURL: %s, APIKey: %s}", llm.SafeURL(c.BaseURL), key)
}

// Remote talks to the Files and Batches APIs through go-openai. It is
// safe for concurrent use, but Submit, Status and Collect of one folder
// must not run side by side (the state file is not locked).
type Remote struct {
	client *openai.Client
	name   string
}

// NewRemote returns a client for cfg. A query in the base URL (a key
// passed as a parameter) is sent with every request and never shown.
func NewRemote(cfg RemoteConfig) *Remote {
	oc := openai.DefaultConfig(cfg.APIKey)
	base, query, _ := strings.Cut(cmp.Or(cfg.BaseURL, oc.BaseURL), "?")
	oc.BaseURL = strings.TrimRight(base, "/")
	var doer llm.HTTPDoer = llm.DefaultHTTPClient()
	if cfg.HTTPClient != nil {
		doer = cfg.HTTPClient
	}
	if query != "" {
		doer = queryDoer{next: doer, query: query}
	}
	oc.HTTPClient = scrubbingDoer{next: doer}
	return &Remote{client: openai.NewClientWithConfig(oc), name: llm.SafeURL(oc.BaseURL)}
}

// queryDoer adds the base URL's query to every request.
type queryDoer struct {
	next  llm.HTTPDoer
	query string
}

// Do implements llm.HTTPDoer.
func (d queryDoer) Do(req *http.Request) (*http.Response, error) {
	extra, err := url.ParseQuery(d.query)
	if err != nil {
		return nil, errors.New("batch: the base URL's query does not parse")
	}
	q := req.URL.Query()
	for k, vs := range extra {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	req.URL.RawQuery = q.Encode()
	return d.next.Do(req)
}

// scrubbingDoer drops user info and query from the URL of a network error,
// so no secret in the base URL reaches an error message.
type scrubbingDoer struct{ next llm.HTTPDoer }

// Do implements llm.HTTPDoer.
func (d scrubbingDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.next.Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = llm.SafeURL(ue.URL)
	}
	return resp, err
}

// State is the batch folder's record of its remote work.
type State struct {
	// Files has one entry per request file, in file order.
	Files []FileState `json:"files"`
}

// FileState is one request file's upload, batch and downloads.
type FileState struct {
	// Input is the request file's name in the folder.
	Input string `json:"input"`
	// FileID is the uploaded file's id; empty until uploaded.
	FileID string `json:"file_id,omitempty"`
	// BatchID is the batch's id; empty until created.
	BatchID string `json:"batch_id,omitempty"`
	// Status is the batch's last known status (validating, in_progress,
	// finalizing, completed, failed, expired, cancelling, cancelled).
	Status string `json:"status,omitempty"`
	// Total, Completed and Failed are the batch's last known request
	// counts.
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	// OutputFileID and ErrorFileID are the result files' ids, when given.
	OutputFileID string `json:"output_file_id,omitempty"`
	ErrorFileID  string `json:"error_file_id,omitempty"`
	// Output and Errors are the downloaded files' names in the folder;
	// empty until downloaded.
	Output string `json:"output,omitempty"`
	Errors string `json:"errors,omitempty"`
}

// LoadState reads dir's state, or starts one from its request files.
func LoadState(dir string) (*State, error) {
	st := &State{}
	data, err := os.ReadFile(filepath.Join(dir, StateName))
	switch {
	case err == nil:
		if err := json.Unmarshal(data, st); err != nil {
			return nil, fmt.Errorf("batch: read %s: %w", filepath.Join(dir, StateName), err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("batch: %w", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "requests-*.jsonl")) // the pattern is valid
	if len(files) == 0 {
		return nil, fmt.Errorf("batch: no request files in %s (flexrec batch prepare writes them)", dir)
	}
	for k, f := range files {
		if k >= len(st.Files) {
			st.Files = append(st.Files, FileState{Input: filepath.Base(f)})
		}
	}
	return st, nil
}

func (s *State) save(dir string) error {
	b, _ := json.MarshalIndent(s, "", "  ") // plain structs: cannot fail
	return atomicfile.WriteFile(filepath.Join(dir, StateName), append(b, '\n'), 0o644)
}

// Submit uploads every request file of dir not uploaded yet (purpose
// "batch") and creates a batch for every file without one (the chat
// completions endpoint, CompletionWindow), saving the state after each
// step, so a Submit run again after a kill does neither twice. Errors
// from the API are go-openai's (*openai.APIError, *openai.RequestError),
// wrapped with the file's name.
func (r *Remote) Submit(ctx context.Context, dir string) (*State, error) {
	st, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	for k := range st.Files {
		f := &st.Files[k]
		if f.FileID == "" {
			data, err := os.ReadFile(filepath.Join(dir, f.Input))
			if err != nil {
				return st, fmt.Errorf("batch: %w", err)
			}
			up, err := r.client.CreateFileBytes(ctx, openai.FileBytesRequest{Name: f.Input, Bytes: data, Purpose: openai.PurposeBatch})
			if err != nil {
				return st, fmt.Errorf("batch: %s: upload %s: %w", r.name, f.Input, err)
			}
			f.FileID = up.ID
			if err := st.save(dir); err != nil {
				return st, err
			}
		}
		if f.BatchID == "" {
			b, err := r.client.CreateBatch(ctx, openai.CreateBatchRequest{InputFileID: f.FileID,
				Endpoint: openai.BatchEndpointChatCompletions, CompletionWindow: CompletionWindow})
			if err != nil {
				return st, fmt.Errorf("batch: %s: create the batch of %s: %w", r.name, f.Input, err)
			}
			f.BatchID = b.ID
			f.update(&b.Batch)
			if err := st.save(dir); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

func (f *FileState) update(b *openai.Batch) {
	f.Status = b.Status
	f.Total, f.Completed, f.Failed = b.RequestCounts.Total, b.RequestCounts.Completed, b.RequestCounts.Failed
	if b.OutputFileID != nil {
		f.OutputFileID = *b.OutputFileID
	}
	if b.ErrorFileID != nil {
		f.ErrorFileID = *b.ErrorFileID
	}
}

// Status retrieves every submitted batch of dir not yet final and saves
// what it learns.
func (r *Remote) Status(ctx context.Context, dir string) (*State, error) {
	st, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	for k := range st.Files {
		f := &st.Files[k]
		if f.BatchID == "" || finalStatuses[f.Status] {
			continue
		}
		b, err := r.client.RetrieveBatch(ctx, f.BatchID)
		if err != nil {
			return st, fmt.Errorf("batch: %s: retrieve batch %s: %w", r.name, f.BatchID, err)
		}
		f.update(&b.Batch)
	}
	return st, st.save(dir)
}

// Collect refreshes the status and downloads the output and error files
// of every final batch not downloaded yet into dir as output-NNNNN.jsonl
// and errors-NNNNN.jsonl (NNNNN from the request file). It reports
// whether every batch is final and downloaded.
func (r *Remote) Collect(ctx context.Context, dir string) (*State, bool, error) {
	st, err := r.Status(ctx, dir)
	if err != nil {
		return st, false, err
	}
	done := true
	for k := range st.Files {
		f := &st.Files[k]
		if !finalStatuses[f.Status] {
			done = false
			continue
		}
		num := strings.TrimSuffix(strings.TrimPrefix(f.Input, "requests-"), ".jsonl")
		if f.OutputFileID != "" && f.Output == "" {
			if f.Output, err = r.download(ctx, dir, f.OutputFileID, "output-"+num+".jsonl"); err != nil {
				return st, false, err
			}
		}
		if f.ErrorFileID != "" && f.Errors == "" {
			if f.Errors, err = r.download(ctx, dir, f.ErrorFileID, "errors-"+num+".jsonl"); err != nil {
				return st, false, err
			}
		}
		if err := st.save(dir); err != nil {
			return st, false, err
		}
	}
	return st, done, nil
}

// download writes a file's content to dir/name atomically.
func (r *Remote) download(ctx context.Context, dir, id, name string) (string, error) {
	body, err := r.client.GetFileContent(ctx, id)
	if err != nil {
		return "", fmt.Errorf("batch: %s: download file %s: %w", r.name, id, err)
	}
	defer body.Close()
	f, err := atomicfile.Create(filepath.Join(dir, name), 0o644)
	if err != nil {
		return "", fmt.Errorf("batch: %w", err)
	}
	defer f.Abort()
	if _, err := io.Copy(f, body); err != nil {
		return "", fmt.Errorf("batch: %s: download file %s: %w", r.name, id, err)
	}
	if err := f.Commit(); err != nil {
		return "", fmt.Errorf("batch: %w", err)
	}
	return name, nil
}
