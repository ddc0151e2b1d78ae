package llm

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSafeURL(t *testing.T) {
	for raw, want := range map[string]string{
		"":                                 "",
		"http://127.0.0.1:8000/v1":         "http://127.0.0.1:8000/v1",
		"https://u:secret@h.example/v1":    "https://h.example/v1",
		"https://h.example/v1?api_key=sec": "https://h.example/v1",
		"http://[::1]:8/v1?key=s#frag":     "http://[::1]:8/v1",
	} {
		assert.Equal(t, want, SafeURL(raw), "SafeURL(%q)", raw)
	}
}

// TestOpenAIBaseURLQuery checks that a base URL's query (a key some
// proxies take as ?key=) reaches every request, after the endpoint's path.
func TestOpenAIBaseURLQuery(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"m","object":"model"}]}`))
	}))
	defer srv.Close()
	b, err := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1/?api_key=K1&api-version=2", APIKey: "x"})
	require.NoError(t, err)
	models, err := b.Models(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"m"}, models)
	require.NotNil(t, got)
	assert.Equal(t, "/v1/models", got.URL.Path)
	assert.Equal(t, "K1", got.URL.Query().Get("api_key"))
	assert.Equal(t, "2", got.URL.Query().Get("api-version"))
	assert.NotContains(t, b.String(), "K1", "the backend's name keeps no query")
}
