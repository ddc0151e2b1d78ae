package eval

import "errors"

// ErrRankerName is returned (wrapped, with the name) by NewRankers for a
// ranker name it does not know, a name given twice, or a "+need" variant
// of a ranker that has none: a mistake in the request, not in the data.
var ErrRankerName = errors.New("bad ranker name")
