package flexrec_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/flexrec/flexrec"

// layers is the project's one-way flow: a package may import only packages
// of earlier layers (or of its own layer where noted by sharing an index).
// prompt, mf → eval/dataset → llm → rank → rl → rollout → export / eval /
// testbed → pipeline → cmd/flexrec (docs/development.md; .golangci.yml's
// depguard rules state the same edges).
var layers = map[string]int{
	"":                    0, // the root package: embedded assets only
	"internal/atomicfile": 0,
	"internal/folderlock": 0,
	"prompt":              1,
	"mf":                  1,
	"eval/dataset":        2,
	"llm":                 3,
	"rank":                4,
	"rl":                  5,
	"rollout":             6,
	"export":              7,
	"eval":                7,
	"serve":               7, // the reward service: rank and rl (and llm.Sample)
	"batch":               7, // batch inference: rollout.Run over answers from batch files
	"internal/shard":      7, // shards and their merge: over rollout
	"testbed":             7,
	"pipeline":            8,
	"cmd/flexrec":         9,
}

// layerOf maps a package path to its layer; sub-packages share their
// parent's layer (llm/internal/gguf is llm's).
func layerOf(pkg string) (string, int, bool) {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	for p := rel; ; {
		if l, ok := layers[p]; ok {
			return p, l, true
		}
		i := strings.LastIndex(p, "/")
		if i < 0 {
			if _, ok := layers[""]; ok && rel == "" {
				return "", 0, true
			}
			return rel, 0, false
		}
		p = p[:i]
	}
}

// TestLayering enforces the one-way flow of docs/development.md over the real
// import graph, as restic's depguard rules do.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	require.NoError(t, err, "go list ./...")
	dec := json.NewDecoder(bufio.NewReader(bytes.NewReader(out)))
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		require.NoError(t, dec.Decode(&p))
		if strings.HasPrefix(p.ImportPath, module+"/cmd/") && p.ImportPath != module+"/cmd/flexrec" {
			continue // helper programs (test model generators) may use anything
		}
		from, lf, ok := layerOf(p.ImportPath)
		if !assert.True(t, ok, "package %s has no layer: add it to layers", p.ImportPath) {
			continue
		}
		for _, imp := range p.Imports {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to, lt, ok := layerOf(imp)
			if !ok || to == from {
				continue
			}
			checked++
			assert.Less(t, lt, lf, "%s (layer %d) imports %s (layer %d): imports must go one way", from, lf, to, lt)
		}
	}
	assert.Positive(t, checked, "no internal import checked")
}
