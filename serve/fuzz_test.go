package serve

import (
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzHandler posts arbitrary bodies to both scoring endpoints: the handler
// must answer 200 or 400, never panic, and a 200 must hold one result per
// item.
func FuzzHandler(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"completion":"[2] > [1]","ground_truth":{"gains":[1,3]}}]}`,
		`{"items":[{"completion":"1. Heat\n2. [1]","ground_truth":"{\"gains\":[1,3],\"titles\":[\"Alien\",\"Heat\"],\"k\":1}","offsets":[[0,2],[2,9]]}]}`,
		`{"items":[{"completion":"[\"2\",\"1\"]","ground_truth":{"gains":[0,0],"variances":[1,2]},"item_reward":"rank-level","cutoff":1}]}`,
		`{"query":["p [1] > [2]<|im_end|>"],"prompts":["p "],"labels":["{\"gains\":[1,2]}"]}`,
		`{"items":[{"completion":"x","ground_truth":{"gains":[1e308,-0]}}]}`,
		`{"items":[]}`, `null`, `{"items":[null]}`,
	} {
		f.Add(s)
	}
	h, err := New(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/v1/score", "/get_reward"} {
			code, out := post(t, h, path, []byte(body))
			if code != http.StatusOK && code != http.StatusBadRequest {
				t.Fatalf("POST %s %q: status %d: %s", path, body, code, out)
			}
			if code != http.StatusOK || path != "/v1/score" {
				continue
			}
			var req ScoreRequest
			var resp ScoreResponse
			if json.Unmarshal([]byte(body), &req) != nil || json.Unmarshal(out, &resp) != nil || len(resp.Results) != len(req.Items) {
				t.Fatalf("POST %s %q: 200 with %d results: %s", path, body, len(resp.Results), out)
			}
		}
	})
}
