package jsonl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type member struct{ key, value string }

func members(t *testing.T, line string) ([]member, error) {
	t.Helper()
	var out []member
	err := Object([]byte(line), func(k, v []byte) error {
		out = append(out, member{string(k), string(v)})
		return nil
	})
	return out, err
}

func TestObject(t *testing.T) {
	ok := []struct {
		name, line string
		want       []member
	}{
		{"empty", `{}`, nil},
		{"scalars", ` { "a" : 1 , "b":-2.5e3,"c":true,"d":null } `, []member{{"a", "1"}, {"b", "-2.5e3"}, {"c", "true"}, {"d", "null"}}},
		{"strings with brackets and escapes", `{"s":"[}\"\\","t":"a\\\\"}`, []member{{"s", `"[}\"\\"`}, {"t", `"a\\\\"`}}},
		{"nested", `{"n":[{"x":"]"},[1,[2]],{}],"m":{"k":{"l":[]}}}`, []member{{"n", `[{"x":"]"},[1,[2]],{}]`}, {"m", `{"k":{"l":[]}}`}}},
		{"escaped key", `{"a\u0062":1}`, []member{{"ab", "1"}}},
		{"long strings", `{"a":"` + strings.Repeat("x", 100) + `","b":["` + strings.Repeat("y", 40) + `"]}`,
			[]member{{"a", `"` + strings.Repeat("x", 100) + `"`}, {"b", `["` + strings.Repeat("y", 40) + `"]`}}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := members(t, tc.line)
			require.NoError(t, err, "Object(%s)", tc.line)
			assert.Equal(t, tc.want, got)
		})
	}
	bad := []struct{ name, line, msg string }{
		{"not an object", `[1]`, "byte 0: not a JSON object"},
		{"truncated", `{"a":[1,2`, "byte 9: line ends inside an array or object"},
		{"mismatched", `{"a":[1}`, "byte 7: unexpected '}'"},
		{"unterminated string", `{"a":"b}`, "byte 5: unterminated string"},
		{"two objects", `{}{}`, "byte 2: data after the object"},
		{"missing colon", `{"a" 1}`, `byte 5: unexpected '1', want ':'`},
		{"bad value", `{"a":@}`, `byte 5: unexpected '@', want a value`},
		{"trailing comma", `{"a":1,}`, `byte 7: unexpected '}', want a key`},
		{"too deep", `{"a":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`, "nested deeper than 64"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := members(t, tc.line)
			var se *SyntaxError
			require.ErrorAs(t, err, &se, "Object(%s)", tc.line)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
	t.Run("visit error stops the scan", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := Object([]byte(`{"a":1,"b":2}`), func(k, v []byte) error { n++; return stop })
		assert.ErrorIs(t, err, stop)
		assert.Equal(t, 1, n)
	})
}

// TestObjectRejectsEveryTruncation cuts a record-like line at every byte:
// no prefix may pass, which is what protects a byte-for-byte copy from
// half-written lines.
func TestObjectRejectsEveryTruncation(t *testing.T) {
	line := []byte(`{"id":"e\"1","tokens":[{"text":"[","logprob":-0.25},{"text":" >","logprob":-1e-3}],"parse":{"spans":[[1,2]],"ok":true},"r":0.5}`)
	require.NoError(t, Object(line, func(k, v []byte) error { return nil }))
	for cut := range len(line) {
		var se *SyntaxError
		if err := Object(line[:cut], func(k, v []byte) error { return nil }); !errors.As(err, &se) {
			t.Fatalf("Object(first %d of %d bytes) = %v, want a SyntaxError", cut, len(line), err)
		}
	}
}

func TestValues(t *testing.T) {
	s, err := String([]byte(`"a\"b\u00e9"`))
	require.NoError(t, err)
	assert.Equal(t, "a\"bé", string(s))
	_, err = String([]byte(`"ab`))
	assert.Error(t, err)
	_, err = String([]byte(`"a" `))
	assert.Error(t, err, "a string value has nothing after its quote")
	i, err := Int([]byte(`-42`))
	require.NoError(t, err)
	assert.Equal(t, int64(-42), i)
	_, err = Int([]byte(`4.0`))
	assert.Error(t, err)
	f, err := Float([]byte(`2.5e-1`))
	require.NoError(t, err)
	assert.InDelta(t, 0.25, f, 0)
	for _, bad := range []string{`"1"`, `Inf`, `+1`, ``} {
		_, err = Float([]byte(bad))
		assert.Error(t, err, "Float(%s)", bad)
	}
}

// FuzzObject checks Object against encoding/json: it never panics, it
// accepts every valid JSON object, and the values it hands out are the
// object's, as encoding/json reads them.
func FuzzObject(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":[{"c":"]}"}],"d":"\u0041"}`))
	f.Add([]byte(`{"tokens":[{"text":"[","logprob":-0.25}],"x":{"y":null}}`))
	f.Add([]byte(`{"a\u0062":true}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		got := map[string][]byte{}
		err := Object(line, func(k, v []byte) error {
			// encoding/json turns each invalid UTF-8 byte of a key into
			// U+FFFD; so does a conversion through runes.
			got[string([]rune(string(k)))] = append([]byte(nil), v...)
			return nil
		})
		var want map[string]json.RawMessage
		if !json.Valid(line) || json.Unmarshal(line, &want) != nil || want == nil {
			return
		}
		require.NoError(t, err, "Object(%q)", line)
		require.Len(t, got, len(want), "Object(%q) members", line)
		for k, w := range want {
			var a, b any
			require.NoError(t, json.Unmarshal(got[k], &a), "value of %q", k)
			require.NoError(t, json.Unmarshal(w, &b))
			assert.Equal(t, b, a, "value of %q", k)
		}
	})
}

func TestReader(t *testing.T) {
	var data bytes.Buffer
	for i := range 3000 {
		data.WriteString(strings.Repeat("x", i%1500))
		if i%7 == 0 {
			data.WriteString("\r")
		}
		data.WriteString("\n")
	}
	data.WriteString("last")
	sum := sha256.Sum256(data.Bytes())
	for name, in := range map[string]func() io.Reader{
		"plain":              func() io.Reader { return bytes.NewReader(data.Bytes()) },
		"one byte at a time": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data.Bytes())) },
	} {
		t.Run(name, func(t *testing.T) {
			rd := NewReader(context.Background(), "in", in(), sha256.New())
			var buf []byte
			for i := range 3001 {
				line, ok, err := rd.ReadLine(context.Background(), buf[:0])
				require.NoError(t, err)
				require.True(t, ok, "line %d", i+1)
				want := strings.Repeat("x", i%1500)
				if i == 3000 {
					want = "last"
				}
				require.Equal(t, want, string(line), "line %d", i+1)
				buf = line
			}
			_, ok, err := rd.ReadLine(context.Background(), nil)
			require.NoError(t, err)
			assert.False(t, ok)
			assert.Equal(t, 3001, rd.Line())
			assert.Equal(t, int64(data.Len()), rd.Bytes())
			assert.Equal(t, hex.EncodeToString(sum[:]), rd.Sum())
		})
	}
}

func TestReaderErrors(t *testing.T) {
	t.Run("read error", func(t *testing.T) {
		rd := NewReader(context.Background(), "in", iotest.DataErrReader(iotest.ErrReader(errors.New("disk on fire"))), sha256.New())
		_, _, err := rd.ReadLine(context.Background(), nil)
		assert.EqualError(t, err, "read in: disk on fire")
	})
	t.Run("cancel", func(t *testing.T) {
		pr, pw := io.Pipe() // never written: the reading goroutine blocks
		t.Cleanup(func() { pw.Close() })
		ctx, cancel := context.WithCancel(context.Background())
		rd := NewReader(ctx, "in", pr, sha256.New())
		cancel()
		_, _, err := rd.ReadLine(ctx, nil)
		assert.ErrorIs(t, err, context.Canceled)
	})
}
