package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// HTTPDoer sends HTTP requests; *http.Client implements it. Tests pass an
// httptest server's client or a function transport.
type HTTPDoer interface {
	Do(req *http.Request) (*http.Response, error)
}

// maxIdlePerHost keeps enough warm connections for 64 concurrent requests
// to one server; net/http's default of 2 makes every other request dial.
const maxIdlePerHost = 256

var (
	defaultClientOnce sync.Once
	defaultClient     *http.Client
)

// DefaultHTTPClient returns the client backends use when their config has
// none: one shared transport keeping up to 256 idle connections per host,
// no overall timeout (deadlines come from the context and Retry). It is
// safe for concurrent use.
func DefaultHTTPClient() *http.Client {
	defaultClientOnce.Do(func() {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 4 * maxIdlePerHost
		t.MaxIdleConnsPerHost = maxIdlePerHost
		t.IdleConnTimeout = 90 * time.Second
		t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		defaultClient = &http.Client{Transport: t}
	})
	return defaultClient
}

// answerKey carries, in a request's context, a JSON fragment of object
// members (`"a":1,"b":{}`) to add to the body go-openai built, and where
// to put what the answer's headers say.
type answerKey struct{}

type answerCtx struct {
	members []byte
	meta    *answerMeta
}

// answerMeta is what patchingDoer learns from the HTTP answer that
// go-openai's errors and response types do not carry.
type answerMeta struct {
	retryAfter time.Duration
	// code is the answer's HTTP status; 0 when no answer came.
	code int
	// head is the start of a 2xx body (up to headLimit bytes), so an
	// error object or an empty answer can be reported with the server's
	// own words.
	head []byte
}

// headLimit is how much of a success body answerMeta keeps: enough for
// any error object, little against a completion.
const headLimit = 2 << 10

// headCapture copies the first headLimit bytes read through it into meta.
type headCapture struct {
	io.ReadCloser
	meta *answerMeta
}

// Read implements io.Reader.
func (h headCapture) Read(p []byte) (int, error) {
	n, err := h.ReadCloser.Read(p)
	if room := headLimit - len(h.meta.head); room > 0 && n > 0 {
		h.meta.head = append(h.meta.head, p[:min(n, room)]...)
	}
	return n, err
}

func withAnswer(ctx context.Context, members []byte, meta *answerMeta) context.Context {
	return context.WithValue(ctx, answerKey{}, answerCtx{members: members, meta: meta})
}

// patchingDoer adds the context's body patch to each JSON object body
// before sending: the fields go-openai cannot send (temperature and top_p
// of 0, vendor extensions). The caller leaves those fields unset in
// go-openai's struct, so no key appears twice. It also makes the answer's
// body drain on Close, so the connection goes back to the pool.
type patchingDoer struct {
	next HTTPDoer
}

// Do implements HTTPDoer.
func (d patchingDoer) Do(req *http.Request) (*http.Response, error) {
	ac, _ := req.Context().Value(answerKey{}).(answerCtx)
	if members := ac.members; len(members) > 0 && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("llm: read request body: %w", err)
		}
		patched, err := mergeMembers(body, members)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(patched))
		req.ContentLength = int64(len(patched))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(patched)), nil }
	}
	resp, err := d.next.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body = drainCloser{resp.Body}
	if ac.meta == nil {
		return resp, nil
	}
	ac.meta.code = resp.StatusCode
	if resp.StatusCode >= 400 {
		ac.meta.retryAfter = parseRetryAfter(resp.Header, time.Now())
	} else {
		resp.Body = headCapture{ReadCloser: resp.Body, meta: ac.meta}
	}
	return resp, nil
}

// drainCloser reads what a JSON decoder left unread (a trailing newline,
// the last chunk's terminator) before closing, so net/http reuses the
// connection; it gives up after 64 KiB.
type drainCloser struct{ io.ReadCloser }

// Close drains and closes the body.
func (d drainCloser) Close() error {
	_, _ = io.Copy(io.Discard, io.LimitReader(d.ReadCloser, 64<<10)) // best effort: only connection reuse depends on it
	return d.ReadCloser.Close()
}

// mergeMembers inserts members before the closing brace of the JSON object
// body, without decoding it.
func mergeMembers(body, members []byte) ([]byte, error) {
	body = bytes.TrimRight(body, " \t\r\n")
	if len(body) < 2 || body[0] != '{' || body[len(body)-1] != '}' {
		return nil, fmt.Errorf("llm: request body is not a JSON object")
	}
	out := make([]byte, 0, len(body)+len(members)+1)
	out = append(out, body[:len(body)-1]...)
	if len(bytes.TrimSpace(body[1:len(body)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, members...)
	return append(out, '}'), nil
}

// appendMember appends `"key":<json of v>` to a members fragment.
func appendMember(members []byte, key string, v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("llm: encode request field %q: %w", key, err)
	}
	if len(members) > 0 {
		members = append(members, ',')
	}
	members = append(members, '"')
	members = append(members, key...)
	members = append(members, '"', ':')
	return append(members, raw...), nil
}

// postJSON sends body as JSON and decodes a 2xx answer into out. Other
// answers come back as the error the caller's newStatus builds. Errors
// are not prefixed: the caller names the backend.
func postJSON(ctx context.Context, doer HTTPDoer, url string, body, out any, newStatus func(*http.Response, []byte) error) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return doJSON(doer, req, out, newStatus)
}

// doJSON sends req and decodes a 2xx JSON answer into out. A 2xx body
// that is not JSON is an *AnswerError without Backend and Model, which
// the caller fills in.
func doJSON(doer HTTPDoer, req *http.Request, out any, newStatus func(*http.Response, []byte) error) error {
	resp, err := doer.Do(req)
	if err != nil {
		return err
	}
	defer drainCloser{resp.Body}.Close()
	meta := &answerMeta{}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return fmt.Errorf("read error answer (HTTP %d): %w", resp.StatusCode, err)
		}
		return newStatus(resp, msg)
	}
	var syn *json.SyntaxError
	if err := json.NewDecoder(headCapture{ReadCloser: resp.Body, meta: meta}).Decode(out); errors.As(err, &syn) {
		return &AnswerError{Code: resp.StatusCode, Problem: "answer is not JSON (" + syn.Error() + ")",
			Message: truncate(string(meta.head), 500)}
	} else if err != nil {
		return fmt.Errorf("decode answer from %s: %w", req.URL.Redacted(), err)
	}
	return nil
}

// errorObject returns the server's message when body is a JSON object
// with an "error" member: a string (Ollama) or an object with a "message"
// (OpenAI). ok is false when there is no such member.
func errorObject(body []byte) (msg string, ok bool) {
	var v struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", false
	}
	return errorText(v.Error)
}

// errorText reads an "error" member: a string, an object with a
// "message", or any other JSON shown as it is. ok is false when the member
// is absent or null.
func errorText(raw json.RawMessage) (msg string, ok bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var o struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &o) == nil && o.Message != "" {
		return o.Message, true
	}
	return string(raw), true
}

// scrubURL drops the user info and query from the URL a *url.Error
// names, so a key in the base URL never reaches an error or a log.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = safeURL(ue.URL)
	}
	return err
}

// safeURL drops the user info and query of a URL for display, so neither
// credentials in the URL nor a key passed as a query parameter reach a
// log, an error or a cache namespace.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
