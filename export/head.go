package export

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/flexrec/flexrec/export/internal/jsonl"
)

// head is what every format needs from a record before (or instead of)
// decoding it: the grouping keys and the list reward. Reading it costs a
// fraction of a full decode, which is what lets the native JSONL file be
// written at disk speed.
type head struct {
	schema     int
	episodeID  []byte // unescaped; aliases the line unless it held escapes
	rollout    int
	group      int
	seed       int64
	listReward float64

	// For the manifest's token lengths (optional fields; 0 when absent):
	// the usage counts, and the prompt's and completion's text sizes.
	promptTokens, complTokens int64
	promptBytes, complBytes   int64
	messages                  int
	// switches is the record's reward_switches (aliases the line).
	switches []byte
}

// headNames are the header fields, in the order of their bits in seen.
var headNames = [...]string{"schema_version", "episode_id", "rollout", "group_size", "seed", "list_reward"}

// scanHead checks the framing of line (jsonl.Object: one JSON object,
// brackets balanced outside strings) and reads the header fields into h;
// keys must be spelled exactly. Errors wrap ErrMalformed. No allocation
// unless the episode id holds escapes.
func scanHead(line []byte, h *head) error {
	*h = head{}
	seen := 0
	err := jsonl.Object(line, func(key, value []byte) error {
		bit, err := h.set(key, value)
		if err != nil {
			return fmt.Errorf("%w: field %q: %s", ErrMalformed, key, strings.TrimPrefix(err.Error(), "jsonl: byte 0: "))
		}
		seen |= bit
		return nil
	})
	if err != nil {
		return syntaxToMalformed(err)
	}
	for i, name := range headNames {
		if seen&(1<<i) == 0 {
			return malformed(0, "missing field %q", name)
		}
	}
	return nil
}

// syntaxToMalformed rewords a framing error as ErrMalformed; others
// already wrap it. (Kept apart: errors.As moves its target to the heap.)
func syntaxToMalformed(err error) error {
	var se *jsonl.SyntaxError
	if errors.As(err, &se) {
		return malformed(se.Offset, "%s", se.Msg)
	}
	return err
}

// set reads one member into h if it is a header field, and returns the
// field's bit (0 for other members).
func (h *head) set(key, value []byte) (int, error) {
	var err error
	switch string(key) { // no allocation: the compiler compares in place
	case "schema_version":
		h.schema, err = intValue(value)
		return 1 << 0, err
	case "episode_id":
		h.episodeID, err = jsonl.String(value)
		return 1 << 1, err
	case "rollout":
		h.rollout, err = intValue(value)
		return 1 << 2, err
	case "group_size":
		h.group, err = intValue(value)
		return 1 << 3, err
	case "seed":
		h.seed, err = jsonl.Int(value)
		return 1 << 4, err
	case "list_reward":
		h.listReward, err = jsonl.Float(value)
		return 1 << 5, err
	case "messages":
		h.promptBytes, h.messages = textBytes(value), countMessages(value)
	case "completion":
		h.complBytes = textBytes(value)
	case "usage":
		h.readUsage(value)
	case "reward_switches":
		h.switches, _ = jsonl.String(value) // unreadable: not recorded, the rewards are still checked
	}
	return 0, nil
}

// readUsage reads the usage object's token counts; anything unreadable
// leaves them 0 (the lengths then fall back to the estimate).
func (h *head) readUsage(value []byte) {
	if len(value) == 0 || value[0] != '{' {
		return
	}
	_ = jsonl.Object(value, func(key, v []byte) error { // a malformed usage only costs the counts
		switch string(key) {
		case "prompt_tokens":
			h.promptTokens, _ = jsonl.Int(v)
		case "completion_tokens":
			h.complTokens, _ = jsonl.Int(v)
		}
		return nil
	})
}

func intValue(raw []byte) (int, error) {
	v, err := jsonl.Int(raw)
	if err == nil && (v > math.MaxInt32 || v < math.MinInt32) {
		err = fmt.Errorf("integer %d out of range", v)
	}
	return int(v), err
}
