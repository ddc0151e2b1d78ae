package export

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const minimalHead = `"schema_version":1,"episode_id":"e1","rollout":2,"group_size":8,"seed":-42,"list_reward":0.25`

func TestScanHead(t *testing.T) {
	ok := []struct {
		name, line string
		id         string
	}{
		{"minimal", `{` + minimalHead + `}`, "e1"},
		{"white space", " {\t\"schema_version\" : 1 ,\"episode_id\": \"e1\", \"rollout\":2,\"group_size\":8,\"seed\":-42,\"list_reward\":2.5e-1 } \r", "e1"},
		{"escaped id", `{"schema_version":1,"episode_id":"a\"b\\c\u00e9","rollout":2,"group_size":8,"seed":-42,"list_reward":0.25}`, "a\"b\\c\u00e9"},
		{"nested values", `{"messages":[{"role":"user","content":"[x] } ] { \" \\"}],"parse":{"spans":[[1,2],[3,4]],"valid":true,"x":null},` + minimalHead + `,"tokens":[]}`, "e1"},
		{"string ending in escaped backslash", `{"c":"a\\\\",` + minimalHead + `}`, "e1"},
		{"later key wins", `{` + minimalHead + `,"episode_id":"e2"}`, "e2"},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			var h head
			require.NoError(t, scanHead([]byte(tc.line), &h), "scanHead(%s)", tc.line)
			assert.Equal(t, tc.id, string(h.episodeID))
			assert.Equal(t, 1, h.schema)
			assert.Equal(t, 2, h.rollout)
			assert.Equal(t, 8, h.group)
			assert.Equal(t, int64(-42), h.seed)
			assert.InDelta(t, 0.25, h.listReward, 0)
		})
	}
	bad := []struct{ name, line string }{
		{"empty", ``},
		{"array", `[1,2]`},
		{"truncated", `{` + minimalHead},
		{"missing field", `{"schema_version":1,"episode_id":"e1","rollout":2,"group_size":8,"seed":1}`},
		{"id not a string", `{"schema_version":1,"episode_id":7,"rollout":2,"group_size":8,"seed":1,"list_reward":0}`},
		{"rollout not an integer", `{"schema_version":1,"episode_id":"e","rollout":2.5,"group_size":8,"seed":1,"list_reward":0}`},
		{"reward not a number", `{"schema_version":1,"episode_id":"e","rollout":2,"group_size":8,"seed":1,"list_reward":"x"}`},
		{"rollout out of range", `{"schema_version":1,"episode_id":"e","rollout":9999999999,"group_size":8,"seed":1,"list_reward":0}`},
		{"mismatched brackets", `{"a":[1,2},` + minimalHead + `}`},
		{"unclosed array", `{"a":[1,[2]` + `,` + minimalHead + `}`},
		{"unterminated string", `{"a":"abc,` + minimalHead + `}`},
		{"two objects", `{` + minimalHead + `}{` + minimalHead + `}`},
		{"missing colon", `{"a" 1,` + minimalHead + `}`},
		{"missing comma", `{"a":1 ` + minimalHead + `}`},
		{"bad value", `{"a":@,` + minimalHead + `}`},
		{"trailing comma", `{` + minimalHead + `,}`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			var h head
			err := scanHead([]byte(tc.line), &h)
			assert.ErrorIs(t, err, ErrMalformed, "scanHead(%s)", tc.line)
		})
	}
}

func TestScanHeadErrorMessages(t *testing.T) {
	var h head
	err := scanHead([]byte(`{"schema_version":1,"episode_id":"e","rollout":2.5,"group_size":8,"seed":1,"list_reward":0}`), &h)
	assert.EqualError(t, err, `export: malformed record: field "rollout": want an integer, got "2.5"`)
	err = scanHead([]byte(`{"schema_version":1,"episode_id":"e","rollout":[1,2}`), &h)
	assert.EqualError(t, err, `export: malformed record: byte 51: unexpected '}'`)
}
