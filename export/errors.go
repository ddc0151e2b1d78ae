package export

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors wrapped by LineError and Export; match them with
// errors.Is.
var (
	// ErrMalformed reports an input line that is not one complete JSON
	// object, or whose header fields (schema_version, episode_id, rollout,
	// group_size, seed, list_reward) are missing or of the wrong type.
	ErrMalformed = errors.New("export: malformed record")
	// ErrSchema reports a record whose schema_version is not
	// rollout.SchemaVersion.
	ErrSchema = errors.New("export: unsupported record schema")
	// ErrRecord reports a record that decodes but is inconsistent: order,
	// ranking, gains or messages not aligned with the candidates.
	ErrRecord = errors.New("export: inconsistent record")
)

// LineError is an error in one line of a rollouts input. Unwrap gives the
// cause, which wraps ErrMalformed, ErrSchema or ErrRecord.
type LineError struct {
	// Name is the input's name (a file name, or "stdin").
	Name string
	// Line is the 1-based line number.
	Line int
	// Err is the cause.
	Err error
}

// Error returns "export: NAME:LINE: cause".
func (e *LineError) Error() string {
	return fmt.Sprintf("export: %s:%d: %s", e.Name, e.Line, strings.TrimPrefix(e.Err.Error(), "export: "))
}

// Unwrap returns the cause.
func (e *LineError) Unwrap() error { return e.Err }

// malformed wraps ErrMalformed with a reason and the byte offset.
func malformed(at int, format string, args ...any) error {
	return fmt.Errorf("%w: byte %d: %s", ErrMalformed, at, fmt.Sprintf(format, args...))
}
