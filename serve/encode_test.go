package serve

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEncodeMatchesEncodingJSON: the hand-written encoder writes what
// encoding/json writes for ScoreResponse, byte for byte.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	items := benchItems(9, 200, 30)
	items = append(items,
		map[string]any{"completion": "[<b>] > [2] > [\"x\\\"] > [é] > [1e-9]", "ground_truth": map[string]any{"gains": []float64{1e-9, 3e21, 0}}},
		map[string]any{"completion": "1. Heat & Co\n2. [3]", "ground_truth": map[string]any{"gains": []float64{1, 2, 3}, "titles": []string{"Alien", "Heat & Co", "Up"}},
			"offsets": [][2]int{{0, 3}, {3, 12}}},
	)
	h := newTestHandler(t, nil)
	code, out := post(t, h, "/v1/score", mustJSON(t, map[string]any{"items": items}))
	require.Equal(t, http.StatusOK, code, "%s", out)
	var resp ScoreResponse
	require.NoError(t, json.Unmarshal(out, &resp))
	want, err := json.Marshal(resp)
	require.NoError(t, err)
	assert.Equal(t, string(want)+"\n", string(out))
}

func TestScoreFields(t *testing.T) {
	h := newTestHandler(t, nil)
	body := `{"items":[{"completion":"[2] > [1]","ground_truth":{"gains":[1,3]}}],"fields":["list_reward","u"]}`
	code, out := post(t, h, "/v1/score", []byte(body))
	require.Equal(t, http.StatusOK, code, "%s", out)
	assert.JSONEq(t, `{"results":[{"list_reward":1,"u":0}]}`, string(out))
	code, out = post(t, h, "/v1/score", []byte(`{"items":[{"completion":"x","ground_truth":{"gains":[1]}}],"fields":["reward"]}`))
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, string(out), "serve: fields[0]: unknown field")
}

func TestScoreOverflow(t *testing.T) {
	h := newTestHandler(t, nil)
	code, out := post(t, h, "/v1/score", []byte(`{"items":[{"completion":"[1]","ground_truth":{"gains":[1.7e308,1.7e308,1.7e308]}}]}`))
	assert.Equal(t, http.StatusBadRequest, code, "%s", out)
	assert.Contains(t, string(out), "items[0].ground_truth.gains: values too large")
	code, out = post(t, h, "/get_reward", []byte(`{"query":["p[1]"],"prompts":["p"],"labels":[{"gains":[1.7e308,1.7e308,1.7e308]}]}`))
	assert.Equal(t, http.StatusBadRequest, code, "%s", out)
	assert.Contains(t, string(out), "labels[0].gains: values too large")
}
