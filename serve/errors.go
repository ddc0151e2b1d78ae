package serve

import (
	"errors"
	"fmt"
)

// ErrBadInput is matched (errors.Is) by every InputError.
var ErrBadInput = errors.New("serve: bad input")

// InputError is a request the service cannot score: malformed JSON, a
// missing or mistyped field, or values outside their range. The handler
// answers it with HTTP 400 and Error's text.
type InputError struct {
	// Item is the 0-based index of the item at fault, or -1 when the fault
	// is in the request as a whole.
	Item int
	// Field is the JSON path of the field at fault, item index included:
	// "items[3].ground_truth.gains", "labels[0]", "body".
	Field string
	// Err is the cause.
	Err error
}

// Error returns "serve: FIELD: cause".
func (e *InputError) Error() string { return fmt.Sprintf("serve: %s: %v", e.Field, e.Err) }

// Unwrap returns the cause.
func (e *InputError) Unwrap() error { return e.Err }

// Is reports whether target is ErrBadInput.
func (e *InputError) Is(target error) bool { return target == ErrBadInput }

// badItem returns an InputError for field of item i of list (items,
// query, labels, ...); an empty field names the item itself.
func badItem(list string, i int, field string, format string, args ...any) *InputError {
	path := fmt.Sprintf("%s[%d]", list, i)
	if field != "" {
		path += "." + field
	}
	return &InputError{Item: i, Field: path, Err: fmt.Errorf(format, args...)}
}

// badBody returns an InputError for the request as a whole.
func badBody(field string, err error) *InputError {
	return &InputError{Item: -1, Field: field, Err: err}
}
