package dataset

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeScaledCopies writes copies disjoint copies of ds into dir in the
// generic layout: copy c renames every user and item id with the suffix
// "~c" (none for copy 0), so each copy has its own users and items and the
// data grows by exactly copies× (users, items, interactions). Titles,
// categories, values and times are kept. It is the input of the scaling
// measurements (docs/datasets.md): big data is generated, never committed.
func writeScaledCopies(dir string, ds *Dataset, copies int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	suffix := func(id string, c int) string {
		if c == 0 {
			return id
		}
		return id + "~" + strconv.Itoa(c)
	}
	items := make([]Item, 0, copies*len(ds.Items))
	ins := make([]Interaction, 0, copies*len(ds.Interactions))
	for c := range copies {
		for _, it := range ds.Items {
			it.ID = suffix(it.ID, c)
			items = append(items, it)
		}
		for _, in := range ds.Interactions {
			in.User, in.Item = suffix(in.User, c), suffix(in.Item, c)
			ins = append(ins, in)
		}
	}
	if err := writeItemsJSONL(filepath.Join(dir, "items.jsonl"), items); err != nil {
		return err
	}
	return WriteInteractionsFile(filepath.Join(dir, "interactions.csv"), ins)
}

func writeItemsJSONL(path string, items []Item) error {
	return writeFileAtomic(path, func(w0 io.Writer) error {
		w := bufio.NewWriter(w0)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for i := range items {
			if err := enc.Encode(&items[i]); err != nil {
				return fmt.Errorf("write item %q: %w", items[i].ID, err)
			}
		}
		return w.Flush()
	})
}

// TestScaledCopies checks the generator on two copies. With
// FLEXREC_SCALE_DIR set it also writes 1, 4 and 16 copies of
// ml-latest-small to $FLEXREC_SCALE_DIR/x1, x4 and x16 for the scaling
// measurements:
//
//	FLEXREC_SCALE_DIR=/tmp/scale go test ./eval/dataset -run TestScaledCopies
func TestScaledCopies(t *testing.T) {
	ds := loadMLSmall(t)
	dir := t.TempDir()
	require.NoError(t, writeScaledCopies(dir, ds, 2), "writeScaledCopies")
	got, err := Load(t.Context(), dir)
	require.NoError(t, err, "Load of two copies")
	assert.Equal(t, LayoutGeneric, got.Layout)
	assert.Equal(t, 2*len(ds.Items), len(got.Items), "items")
	assert.Equal(t, 2*len(ds.Interactions), len(got.Interactions), "interactions")
	assert.True(t, got.HasTime, "times kept")
	a, b := Summarize(ds), Summarize(got)
	assert.Equal(t, 2*a.Users, b.Users, "users")
	assert.Equal(t, a.PerUser, b.PerUser, "per-user distribution")

	out := os.Getenv("FLEXREC_SCALE_DIR")
	if out == "" {
		return
	}
	for _, k := range []int{1, 4, 16} {
		require.NoError(t, writeScaledCopies(filepath.Join(out, "x"+strconv.Itoa(k)), ds, k))
	}
}
