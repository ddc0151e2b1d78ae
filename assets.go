// Package flexrec holds nothing but the vendored default dataset: the
// official MovieLens ml-latest-small zip (GroupLens, 2018-09-26), embedded
// so that `--dataset ml-latest-small` works offline with no download. It
// exists at the module root only because go:embed cannot reach the
// testdata folder from package eval/dataset, which is where the zip is read
// (see dataset.Load). The license terms sit beside the zip in
// testdata/ml-latest-small/README.txt.
package flexrec

import (
	_ "embed"
	"strings"
)

//go:embed testdata/ml-latest-small/ml-latest-small.zip
var mlLatestSmallZip string

// MLLatestSmallZip returns a reader over the embedded ml-latest-small.zip
// (978,202 bytes). The bytes are immutable; every call returns a fresh
// reader, so it is safe for concurrent use. Open it with
// zip.NewReader(r, r.Size()).
func MLLatestSmallZip() *strings.Reader {
	return strings.NewReader(mlLatestSmallZip)
}
