package serve

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flexrec/flexrec/rank"
	"github.com/flexrec/flexrec/rl"
)

func TestScore(t *testing.T) {
	h := newTestHandler(t, nil)
	gains := []float64{3, 2, 1, 0}
	cases := []struct {
		name, completion string
		wantPerm         []string
		wantGenerated    int
	}{
		{"contract", "I think [3] fits.\n[3] > [1] > [2] > [4]", []string{"3", "1", "2", "4"}, 4},
		{"numbered list", "1. [2] Heat\n2. [1] Alien\n3. [4]\n4. [3]", []string{"2", "1", "4", "3"}, 4},
		{"code fence", "```\n[1] > [2] > [3] > [4]\n```", []string{"1", "2", "3", "4"}, 4},
		{"cut short", "[4] > [2] > [", []string{"4", "2", "1", "3"}, 2},
		{"empty", "", []string{"1", "2", "3", "4"}, 0},
		{"full width", "［２］＞［１］＞［３］＞［４］", []string{"2", "1", "3", "4"}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := mustJSON(t, map[string]any{"items": []any{map[string]any{
				"completion": tc.completion, "ground_truth": map[string]any{"gains": gains, "k": 0}}}})
			code, out := post(t, h, "/v1/score", body)
			require.Equal(t, http.StatusOK, code, "POST /v1/score: %s", out)
			var resp ScoreResponse
			require.NoError(t, json.Unmarshal(out, &resp))
			require.Len(t, resp.Results, 1)
			r := resp.Results[0]
			assert.Equal(t, tc.wantPerm, r.Permutation, "permutation")
			assert.Equal(t, tc.wantGenerated, r.Report.NGenerated, "n_generated")
			perm := make([]int, len(r.Permutation))
			for p, id := range r.Permutation {
				perm[p] = int(id[0]-'0') - 1
			}
			want, err := rl.ListReward(gains, perm, 0)
			require.NoError(t, err)
			assert.Equal(t, want, r.ListReward, "list_reward")
			assert.Len(t, r.ItemRewards, 4)
			assert.Len(t, r.Generated, 4)
			assert.Equal(t, want2report(tc.completion), r.Report, "report")
		})
	}
}

// want2report is what `flexrec parse --n 4` prints for text.
func want2report(text string) rank.Report {
	cands := []rank.Candidate{{ID: "1"}, {ID: "2"}, {ID: "3"}, {ID: "4"}}
	return rank.Parse(text, cands).Report()
}

func TestScoreGroundTruthForms(t *testing.T) {
	h := newTestHandler(t, nil)
	gt := map[string]any{"gains": []float64{0.5, 4, 1}, "variances": []float64{0, 0.3, 1}, "k": 2}
	text, _ := json.Marshal(gt)
	var results [][]byte
	for _, g := range []any{gt, string(text)} {
		body := mustJSON(t, map[string]any{"items": []any{map[string]any{"completion": "[2] > [3] > [1]", "ground_truth": g}}})
		code, out := post(t, h, "/v1/score", body)
		require.Equal(t, http.StatusOK, code, "%s", out)
		results = append(results, out)
	}
	assert.JSONEq(t, string(results[0]), string(results[1]), "object and JSON text give the same result")
	var resp ScoreResponse
	require.NoError(t, json.Unmarshal(results[0], &resp))
	assert.Positive(t, resp.Results[0].U, "u with variances")
}

func TestScoreTokenRewards(t *testing.T) {
	h := newTestHandler(t, nil)
	text := "ok [2] > [1]>[3]"
	// tokens: "ok", " [", "2", "]", " >", " [", "1", "]>[", "3", "]"
	offsets := [][2]int{{0, 2}, {2, 4}, {4, 5}, {5, 6}, {6, 8}, {8, 10}, {10, 11}, {11, 14}, {14, 15}, {15, 16}}
	body := mustJSON(t, map[string]any{"items": []any{map[string]any{"completion": text,
		"ground_truth": map[string]any{"gains": []float64{1, 3, 2}}, "offsets": offsets}}})
	code, out := post(t, h, "/v1/score", body)
	require.Equal(t, http.StatusOK, code, "%s", out)
	var resp ScoreResponse
	require.NoError(t, json.Unmarshal(out, &resp))
	r := resp.Results[0]
	ir := r.ItemRewards
	want := []float64{0, ir[0], ir[0], ir[0], 0, ir[1], ir[1], ir[1], ir[2], ir[2]}
	assert.Equal(t, want, r.TokenRewards, "token_rewards: the shared ]>[ token goes to the earlier item")
}

func TestScoreBadInput(t *testing.T) {
	h := newTestHandler(t, func(c *Config) { c.MaxBody = 4096 })
	good := `{"completion":"[1] > [2]","ground_truth":{"gains":[1,0]}}`
	cases := []struct{ name, body, want string }{
		{"malformed", `{"items": [`, "serve: body:"},
		{"not an object", `[1,2]`, "serve: body:"},
		{"no items", `{}`, "serve: items: required"},
		{"items not a list", `{"items": 3}`, "serve: items:"},
		{"missing completion", `{"items":[` + good + `,{"ground_truth":{"gains":[1]}}]}`, "items[1].completion: required"},
		{"completion not a string", `{"items":[{"completion":3,"ground_truth":{"gains":[1]}}]}`, "items[0].completion:"},
		{"missing ground truth", `{"items":[{"completion":"x"}]}`, "items[0].ground_truth: required"},
		{"gains wrong type", `{"items":[` + good + `,` + good + `,{"completion":"x","ground_truth":{"gains":"1,2"}}]}`, "items[2].ground_truth.gains:"},
		{"gains in text wrong type", `{"items":[{"completion":"x","ground_truth":"{\"gains\":[\"a\"]}"}]}`, "items[0].ground_truth.gains"},
		{"ground truth text not JSON", `{"items":[{"completion":"x","ground_truth":"gains"}]}`, "items[0].ground_truth:"},
		{"no gains", `{"items":[{"completion":"x","ground_truth":{"k":1}}]}`, "items[0].ground_truth.gains: required"},
		{"negative gain", `{"items":[{"completion":"x","ground_truth":{"gains":[1,-1]}}]}`, "items[0].ground_truth.gains: value 1 is -1"},
		{"variances wrong length", `{"items":[{"completion":"x","ground_truth":{"gains":[1,2],"variances":[0]}}]}`, "items[0].ground_truth.variances: 1 values for 2 gains"},
		{"titles wrong length", `{"items":[{"completion":"x","ground_truth":{"gains":[1,2],"titles":["a"]}}]}`, "items[0].ground_truth.titles: 1 titles for 2 gains"},
		{"negative k", `{"items":[{"completion":"x","ground_truth":{"gains":[1,2],"k":-1}}]}`, "items[0].ground_truth.k"},
		{"negative cutoff", `{"items":[{"completion":"x","ground_truth":{"gains":[1,2]},"cutoff":-2}]}`, "items[0].cutoff"},
		{"bad item reward", `{"items":[{"completion":"x","ground_truth":{"gains":[1,2]},"item_reward":"swap"}]}`, "items[0].item_reward"},
		{"offset past the end", `{"items":[{"completion":"x","ground_truth":{"gains":[1,2]},"offsets":[[0,1],[1,5]]}]}`, "items[0].offsets[1]"},
		{"offset reversed", `{"items":[{"completion":"xy","ground_truth":{"gains":[1,2]},"offsets":[[1,0]]}]}`, "items[0].offsets[0]"},
		{"oversized", `{"items":[{"completion":"` + strings.Repeat("x", 5000) + `"}]}`, "larger than the limit of 4096 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := post(t, h, "/v1/score", []byte(tc.body))
			assert.Equal(t, http.StatusBadRequest, code, "POST /v1/score %s: %s", tc.body, out)
			var e errorBody
			require.NoError(t, json.Unmarshal(out, &e), "error body %s", out)
			assert.Contains(t, e.Error, tc.want, "error message")
		})
	}
}

func TestRoutes(t *testing.T) {
	h := newTestHandler(t, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code, "GET /healthz")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/score", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, "GET /v1/score")
	post(t, h, "/v1/score", []byte(`{"items":[{"completion":"[2]","ground_truth":{"gains":[1,0]}}]}`))
	post(t, h, "/v1/score", []byte(`{`))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	m := rec.Body.String()
	for _, want := range []string{
		`flexrec_serve_requests_total{path="/v1/score",code="200"} 1`,
		`flexrec_serve_requests_total{path="/v1/score",code="400"} 1`,
		`flexrec_serve_items_total{path="/v1/score"} 1`,
		`flexrec_serve_repairs_total 1`,
		`flexrec_serve_parse_failures_total 0`,
		`flexrec_serve_request_duration_seconds_count{path="/v1/score"} 2`,
		`# TYPE flexrec_serve_request_duration_seconds histogram`,
	} {
		assert.Contains(t, m, want, "GET /metrics")
	}
}

func TestAuth(t *testing.T) {
	h := newTestHandler(t, func(c *Config) { c.Token = "s3cret-token" })
	body := []byte(`{"items":[{"completion":"[2]","ground_truth":{"gains":[1,0]}}]}`)
	cases := []struct {
		name   string
		header []string
		want   int
	}{
		{"none", nil, http.StatusUnauthorized},
		{"wrong", []string{"Authorization", "Bearer s3cret-tokem"}, http.StatusUnauthorized},
		{"prefix", []string{"Authorization", "Bearer s3cret"}, http.StatusUnauthorized},
		{"basic", []string{"Authorization", "Basic s3cret-token"}, http.StatusUnauthorized},
		{"right", []string{"Authorization", "Bearer s3cret-token"}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := post(t, h, "/v1/score", body, tc.header...)
			assert.Equal(t, tc.want, code, "POST /v1/score: %s", out)
			assert.NotContains(t, string(out), "s3cret", "the token never appears in an answer")
		})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code, "GET /healthz needs no token")
	assert.NotContains(t, DefaultConfig().String()+h.cfg.String(), "s3cret", "Config.String hides the token")
}

func TestTimeout(t *testing.T) {
	h := newTestHandler(t, func(c *Config) { c.Timeout = time.Nanosecond })
	code, out := post(t, h, "/v1/score", []byte(`{"items":[{"completion":"[2]","ground_truth":{"gains":[1,0]}}]}`))
	assert.Equal(t, http.StatusServiceUnavailable, code, "POST /v1/score past the timeout: %s", out)
	assert.Contains(t, string(out), "not scored within")
}

func TestParallelEqualsSerial(t *testing.T) {
	items := benchItems(3, 300, 30)
	body := mustJSON(t, map[string]any{"items": items})
	_, one := post(t, newTestHandler(t, nil), "/v1/score", body)
	_, four := post(t, newTestHandler(t, func(c *Config) { c.Workers = 4 }), "/v1/score", body)
	assert.Equal(t, string(one), string(four), "4 workers answer byte for byte as 1")
}
