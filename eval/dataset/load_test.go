package dataset

import (
	"archive/zip"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture is the path of a dataset fixture under testdata/datasets.
func fixture(name string) string { return filepath.Join("..", "..", "testdata", "datasets", name) }

func load(t *testing.T, spec string) *Dataset {
	t.Helper()
	ds, err := Load(context.Background(), spec)
	require.NoError(t, err, "Load(%s)", spec)
	return ds
}

func item(t *testing.T, ds *Dataset, id string) Item {
	t.Helper()
	it, ok := ds.Item(id)
	require.True(t, ok, "item %q missing", id)
	return it
}

func TestLoadMovieLens(t *testing.T) {
	t.Run("100k", func(t *testing.T) {
		ds := load(t, fixture("ml-100k"))
		assert.Equal(t, LayoutMovieLens100K, ds.Layout)
		assert.Len(t, ds.Items, 16)
		assert.Len(t, ds.Interactions, 60)
		// u.item line 1 flags: column 5 (Comedy) and 13 (Mystery) set.
		assert.Equal(t, []string{"Comedy", "Mystery"}, item(t, ds, "1").Categories)
		assert.Nil(t, item(t, ds, "3").Categories, "only the 'unknown' flag is set")
		assert.Equal(t, "Café au lait (1994)", item(t, ds, "15").Title, "Latin-1 decoded")
		assert.Equal(t, Interaction{User: "5", Item: "1", Value: 4, Time: 874971118}, ds.Interactions[0])
		assert.True(t, ds.HasTime)
		assert.Equal(t, 4.0, ds.LikeAt)
	})
	t.Run("1m", func(t *testing.T) {
		ds := load(t, fixture("ml-1m"))
		assert.Equal(t, LayoutMovieLens1M, ds.Layout)
		assert.Len(t, ds.Items, 16)
		assert.Len(t, ds.Interactions, 40)
		assert.Equal(t, Item{ID: "1", Title: "Toy Story (1995)", Categories: []string{"Crime", "Musical"}}, item(t, ds, "1"))
		assert.Equal(t, "Nénette et Boni (1996)", item(t, ds, "16").Title, "Latin-1 decoded")
		assert.Equal(t, Interaction{User: "1", Item: "6", Value: 1, Time: 978301260}, ds.Interactions[0])
	})
	t.Run("latest", func(t *testing.T) {
		ds := load(t, fixture("ml-latest"))
		assert.Equal(t, LayoutMovieLensLatest, ds.Layout)
		assert.Len(t, ds.Items, 16)
		assert.Len(t, ds.Interactions, 55)
		assert.Equal(t, "American President, The (1995)", item(t, ds, "11").Title, "quoted title with a comma")
		assert.Equal(t, "City of Lost Children, The (Cité des enfants perdus, La) (1995)", item(t, ds, "29").Title)
		assert.Nil(t, item(t, ds, "114335").Categories, "(no genres listed)")
		require.Len(t, ds.Tags, 3)
		assert.Equal(t, Tag{User: "2", Item: "296", Tag: "dark, funny", Time: 1445714996}, ds.Tags[1])
		for _, in := range ds.Interactions {
			assert.NotContains(t, in.User+in.Item, "\r", "CRLF stripped")
		}
	})
}

func TestLoadKuaiRec(t *testing.T) {
	ds := load(t, fixture("kuairec"))
	assert.Equal(t, LayoutKuaiRec, ds.Layout)
	assert.Len(t, ds.Items, 12)
	assert.Len(t, ds.Interactions, 40)
	assert.Equal(t, 2.0, ds.LikeAt)
	assert.Equal(t, Item{ID: "0", Title: "精神小伙路难走 程哥你狗粮慢点撒", Categories: []string{"颜值", "颜值随拍"}}, item(t, ds, "0"))
	assert.Equal(t, "我平淡无奇， 惊艳不了时光", item(t, ds, "3").Title, "bare CR in a caption collapses to a space")
	assert.Equal(t, "“你们吵的越狠 他们的手就握的越紧”", item(t, ds, "5").Title)
	assert.Equal(t, "记住我的名字", item(t, ds, "6").Title, "caption UNKNOWN falls back to the cover text")
	assert.Equal(t, Item{ID: "1", Title: "video 1", Categories: []string{"高新数码"}}, item(t, ds, "1"))
	assert.Equal(t, Item{ID: "10", Title: "video 10", Categories: []string{"祝福"}}, item(t, ds, "10"), "daily tag name")
	assert.Nil(t, item(t, ds, "11").Categories, "feat [] and tag UNKNOWN")
	// Line 2: timestamp 1593887303.438, watch ratio 2.3.
	assert.Equal(t, Interaction{User: "14", Item: "9", Time: 1593887303, Value: 2.3}, ds.Interactions[0])
	// Line 6 has no timestamp: midnight of 2020-07-06 China time.
	assert.Equal(t, int64(1593964800), ds.Interactions[4].Time)
}

func TestLoadKuaiRecCategoriesWithoutCaptions(t *testing.T) {
	dir := copyFixture(t, "kuairec")
	require.NoError(t, os.Remove(filepath.Join(dir, "kuairec_caption_category.csv")))
	ds := load(t, dir)
	assert.Equal(t, Item{ID: "1", Title: "video 1", Categories: []string{"tag 27", "tag 9"}}, item(t, ds, "1"))
}

func TestLoadGCDR(t *testing.T) {
	ds := load(t, fixture("kuairec-gcdr"))
	assert.Equal(t, LayoutKuaiRecGCDR, ds.Layout)
	assert.Len(t, ds.Items, 12)
	assert.Len(t, ds.Interactions, 27)
	assert.False(t, ds.HasTime)
	assert.Equal(t, []string{"tag 27", "tag 9"}, item(t, ds, "1").Categories)
	var seq []string
	for _, in := range ds.Interactions {
		if in.User == "14" {
			seq = append(seq, in.Item)
			assert.Equal(t, 1.0, in.Value)
		}
	}
	assert.Equal(t, strings.Split("9,10,1,7,11,5,2,6,8", ","), seq, "valid.txt then test.txt")
}

func TestLoadESCI(t *testing.T) {
	ds := load(t, fixture("esci"))
	assert.Equal(t, LayoutESCI, ds.Layout)
	assert.Len(t, ds.Items, 12)
	require.Len(t, ds.Judgements, 13)
	assert.Equal(t, Judgement{QueryID: "q1", Query: "wireless earbuds", Item: "B01", Label: "E"}, ds.Judgements[0])
	assert.Equal(t, "USB-C charging cable, 2 m", item(t, ds, "B03").Title)
	assert.Empty(t, ds.Interactions)
}

func TestLoadGeneric(t *testing.T) {
	csvDS, jsonDS := load(t, fixture("generic-tiny")), load(t, fixture("generic-jsonl"))
	for _, ds := range []*Dataset{csvDS, jsonDS} {
		assert.Equal(t, LayoutGeneric, ds.Layout)
		assert.Len(t, ds.Items, 8)
		assert.Len(t, ds.Interactions, 12)
		assert.True(t, ds.HasTime)
		assert.Equal(t, Interaction{User: "u1", Item: "c2", Value: 4.5, Time: 111 * 86400}, ds.Interactions[4])
	}
	assert.Equal(t, csvDS.Interactions, jsonDS.Interactions, "CSV and JSONL give the same interactions")
	assert.Equal(t, Item{ID: "c2", Title: "Comedy Action", Categories: []string{"Comedy", "Action"}}, item(t, csvDS, "c2"))
}

func TestDetectLayout(t *testing.T) {
	for name, want := range map[string]string{
		"ml-100k": LayoutMovieLens100K, "ml-1m": LayoutMovieLens1M, "ml-latest": LayoutMovieLensLatest,
		"kuairec": LayoutKuaiRec, "kuairec-gcdr": LayoutKuaiRecGCDR, "esci": LayoutESCI,
		"generic-tiny": LayoutGeneric, "generic-jsonl": LayoutGeneric,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := DetectLayout(fixture(name))
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
	t.Run("one folder down", func(t *testing.T) {
		outer := t.TempDir()
		copyDir(t, fixture("ml-100k"), filepath.Join(outer, "ml-100k"))
		require.NoError(t, os.WriteFile(filepath.Join(outer, "README"), []byte("x"), 0o644))
		ds := load(t, outer)
		assert.Equal(t, LayoutMovieLens100K, ds.Layout)
		assert.Len(t, ds.Interactions, 60)
	})
	t.Run("unknown", func(t *testing.T) {
		_, err := DetectLayout(t.TempDir())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "unknown layout")
		assert.Contains(t, err.Error(), "u.data+u.item")
	})
	t.Run("kuairec metadata only", func(t *testing.T) {
		dir := copyFixture(t, "kuairec")
		require.NoError(t, os.Remove(filepath.Join(dir, "small_matrix.csv")))
		_, err := DetectLayout(dir)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "interaction matrix is required")
	})
}

func TestLoadSpecs(t *testing.T) {
	t.Run("zip", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ml.zip")
		zipDir(t, fixture("ml-latest"), "ml-latest/", path)
		zds, dds := load(t, path), load(t, fixture("ml-latest"))
		assert.Equal(t, dds.Items, zds.Items)
		assert.Equal(t, dds.Interactions, zds.Interactions)
		assert.Equal(t, dds.Tags, zds.Tags)
	})
	t.Run("no such dataset", func(t *testing.T) {
		_, err := Load(context.Background(), "no-such-dataset")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "unknown dataset")
	})
	t.Run("plain file", func(t *testing.T) {
		_, err := Load(context.Background(), filepath.Join(fixture("ml-100k"), "u.data"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not a single file")
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Load(ctx, BuiltinMLLatestSmall)
		assert.ErrorIs(t, err, context.Canceled)
	})
}

// TestLoadBuiltin checks the embedded zip against the published figures of
// ml-latest-small (README.txt: 100836 ratings and 3683 tags, 610 users,
// 9742 movies) and, where the shared folder exists, against the unzipped
// files.
func TestLoadBuiltin(t *testing.T) {
	ds := load(t, BuiltinMLLatestSmall)
	st := Summarize(ds)
	assert.Equal(t, LayoutMovieLensLatest, ds.Layout)
	assert.Equal(t, 610, st.Users)
	assert.Equal(t, 9742, st.Items)
	assert.Equal(t, 100836, st.Interactions)
	assert.Equal(t, 3683, st.Tags)
	const shared = "../../../shared/data/ml-latest-small" // ../shared beside the checkout, as in CI
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("no %s to compare with: %v", shared, err)
	}
	folder := load(t, shared)
	assert.Equal(t, folder.Items, ds.Items)
	assert.Equal(t, folder.Interactions, ds.Interactions)
}

// TestLoadSharedKuaiRec reads the real KuaiRec metadata (no matrix ships
// with it) beside the synthetic matrix fixture, and the derived GCDR
// sequences, where the shared data folder exists.
func TestLoadSharedKuaiRec(t *testing.T) {
	const shared = "../../../shared/data" // ../shared beside the checkout, as in CI
	if _, err := os.Stat(filepath.Join(shared, "kuairec", "kuairec_caption_category.csv")); err != nil {
		t.Skipf("no shared KuaiRec data: %v", err)
	}
	dir := t.TempDir()
	for _, f := range []string{"item_categories.csv", "kuairec_caption_category.csv"} {
		copyFile(t, filepath.Join(shared, "kuairec", f), filepath.Join(dir, f))
	}
	copyFile(t, filepath.Join(fixture("kuairec"), "small_matrix.csv"), filepath.Join(dir, "small_matrix.csv"))
	ds := load(t, dir)
	assert.Len(t, ds.Items, 10728, "DATASETS.md: 10,729 caption records with the header")
	gcdr := load(t, filepath.Join(shared, "kuairec-gcdr-derived"))
	assert.Equal(t, 1411, Summarize(gcdr).Users, "one line per small-matrix user")
}

func copyFixture(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	copyDir(t, fixture(name), dir)
	return dir
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	require.NoError(t, os.CopyFS(to, os.DirFS(from)))
	require.NoError(t, filepath.WalkDir(to, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chmod(p, 0o755)
	}))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o644))
}

func zipDir(t *testing.T, dir, prefix, path string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		w, err := zw.Create(prefix + e.Name())
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
}
