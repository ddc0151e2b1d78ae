package flexrec_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// updateCommand finds the documented golden-file command in
// docs/development.md: go test followed by package paths and -update.
var updateCommand = regexp.MustCompile(`go test ((?:\./[\w/.-]+ )+)-update`)

// updateFlag finds a test file's definition of the -update flag.
var updateFlag = regexp.MustCompile(`(?m)^var \w+ = flag\.Bool\("update"`)

// TestGoldenPackagesDocumented checks that the command docs/development.md
// gives for rewriting golden files names every package that defines
// -update, and only those: a Go test binary rejects a flag it does not
// define, so `go test ./... -update` cannot work and the command lists the
// packages.
func TestGoldenPackagesDocumented(t *testing.T) {
	doc, err := os.ReadFile("docs/development.md")
	require.NoError(t, err, "read docs/development.md")
	m := updateCommand.FindSubmatch(doc)
	require.NotNil(t, m, "docs/development.md has no `go test ./PKG ... -update` command")
	documented := map[string]bool{}
	for _, p := range strings.Fields(string(m[1])) {
		documented[strings.TrimPrefix(p, "./")] = true
	}
	defining := map[string]bool{}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if updateFlag.Match(src) {
			defining[filepath.ToSlash(filepath.Dir(path))] = true
		}
		return nil
	})
	require.NoError(t, err, "walk the module")
	assert.Equal(t, defining, documented,
		"packages defining -update (left) vs those in docs/development.md's `go test ... -update` (right)")
}
