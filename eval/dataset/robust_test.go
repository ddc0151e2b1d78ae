package dataset

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// editFile rewrites file with edit applied to its bytes.
func editFile(t *testing.T, file string, edit func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, edit(b), 0o644))
}

// TestLoadBOM: a UTF-8 byte-order mark at the start of any file (CSV,
// JSONL, TSV, pipe- and ::-separated) loads exactly as the file without it.
func TestLoadBOM(t *testing.T) {
	for _, tc := range []struct{ fixture, file string }{
		{"generic-tiny", "items.jsonl"},
		{"generic-tiny", "interactions.csv"},
		{"generic-jsonl", "interactions.jsonl"},
		{"ml-latest", "movies.csv"},
		{"ml-latest", "ratings.csv"},
		{"ml-latest", "tags.csv"},
		{"ml-100k", "u.data"},
		{"ml-1m", "ratings.dat"},
		{"kuairec", "small_matrix.csv"},
		{"kuairec", "kuairec_caption_category.csv"},
		{"kuairec-gcdr", "valid.txt"},
		{"kuairec-gcdr", "item_categories.txt"},
		{"esci", "products.csv"},
	} {
		t.Run(tc.fixture+"/"+tc.file, func(t *testing.T) {
			want := load(t, fixture(tc.fixture))
			dir := copyFixture(t, tc.fixture)
			editFile(t, filepath.Join(dir, tc.file), func(b []byte) []byte { return append([]byte(utf8BOM), b...) })
			got := load(t, dir)
			assert.Equal(t, want.Items, got.Items, "Load with a BOM in %s: items", tc.file)
			assert.Equal(t, want.Interactions, got.Interactions, "Load with a BOM in %s: interactions", tc.file)
			assert.Equal(t, want.Judgements, got.Judgements, "Load with a BOM in %s: judgements", tc.file)
			assert.Equal(t, want.Tags, got.Tags, "Load with a BOM in %s: tags", tc.file)
			assert.Empty(t, got.InvalidUTF8, "a BOM is not a repair")
		})
	}
}

// TestLoadEmptyFile: an empty file is the file at fault, whatever comes
// after it, and the error wraps ErrEmptyFile.
func TestLoadEmptyFile(t *testing.T) {
	for _, tc := range []struct {
		name, fixture, file, content string
	}{
		{"generic items.jsonl no bytes", "generic-tiny", "items.jsonl", ""},
		{"generic items.jsonl BOM only", "generic-tiny", "items.jsonl", utf8BOM},
		{"generic items.jsonl blank lines", "generic-tiny", "items.jsonl", "\n \r\n\n"},
		{"generic interactions.csv no bytes", "generic-tiny", "interactions.csv", ""},
		{"generic interactions.csv header only", "generic-tiny", "interactions.csv", "user,item,value,time\n"},
		{"generic interactions.jsonl no bytes", "generic-jsonl", "interactions.jsonl", ""},
		{"latest movies.csv no bytes", "ml-latest", "movies.csv", ""},
		{"latest ratings.csv BOM only", "ml-latest", "ratings.csv", utf8BOM},
		{"100k u.item no bytes", "ml-100k", "u.item", ""},
		{"1m ratings.dat no bytes", "ml-1m", "ratings.dat", ""},
		{"kuairec matrix no bytes", "kuairec", "small_matrix.csv", ""},
		{"gcdr test.txt no bytes", "kuairec-gcdr", "test.txt", ""},
		{"esci products.csv no bytes", "esci", "products.csv", ""},
		{"esci products.csv header only", "esci", "products.csv", "product_id,product_title,product_brand,product_locale\n"},
		{"latest movies.csv header only", "ml-latest", "movies.csv", "movieId,title,genres\r\n"},
		{"1m movies.dat blank", "ml-1m", "movies.dat", "\n"},
		{"gcdr items blank", "kuairec-gcdr", "item_categories.txt", "\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFixture(t, tc.fixture)
			path := filepath.Join(dir, tc.file)
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o644))
			_, err := Load(t.Context(), dir)
			require.Error(t, err, "Load with an empty %s", tc.file)
			assert.Contains(t, err.Error(), path+":", "Load: error %q names the empty file", err)
			assert.NotContains(t, err.Error(), path+":1", "Load: error %q blames a line of the empty file", err)
			assert.True(t, strings.HasPrefix(err.Error(), "dataset: "), "Load: error %q has the package prefix", err)
			assert.ErrorIs(t, err, ErrEmptyFile, "Load with an empty %s", tc.file)
		})
	}
}

// TestLoadTimeNotInteger: a time that is not whole Unix seconds is an
// error naming file and line, in every layout but KuaiRec, whose
// timestamps carry milliseconds.
func TestLoadTimeNotInteger(t *testing.T) {
	for _, tc := range []struct {
		name, fixture, file string
		line                int
		row                 string
	}{
		{"generic csv fraction", "generic-tiny", "interactions.csv", 3, "u1,a2,4,8726400.5"},
		{"generic csv exponent", "generic-tiny", "interactions.csv", 3, "u1,a2,4,8.7e6"},
		{"generic csv word", "generic-tiny", "interactions.csv", 3, "u1,a2,4,yesterday"},
		{"generic csv negative", "generic-tiny", "interactions.csv", 3, "u1,a2,4,-1"},
		{"generic jsonl fraction", "generic-jsonl", "interactions.jsonl", 2, `{"user":"u1","item":"a2","value":4,"time":8726400.5}`},
		{"generic jsonl string", "generic-jsonl", "interactions.jsonl", 2, `{"user":"u1","item":"a2","value":4,"time":"soon"}`},
		{"generic jsonl exponent", "generic-jsonl", "interactions.jsonl", 2, `{"user":"u1","item":"a2","value":4,"time":8.7e6}`},
		{"latest fraction", "ml-latest", "ratings.csv", 2, "1,1,4.0,1445714000.5"},
		{"100k fraction", "ml-100k", "u.data", 2, "4\t10\t1\t874970418.25"},
		{"1m fraction", "ml-1m", "ratings.dat", 2, "1::6::3::978301260.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFixture(t, tc.fixture)
			replaceLine(t, filepath.Join(dir, tc.file), tc.line, tc.row)
			_, err := Load(t.Context(), dir)
			require.Error(t, err, "Load with time row %q", tc.row)
			want := filepath.Join(dir, tc.file) + ":" + strconv.Itoa(tc.line)
			assert.Contains(t, err.Error(), want, "Load: error names file and line")
			assert.Contains(t, err.Error(), "time", "Load: error %q names the field", err)
		})
	}
	t.Run("generic jsonl null time is unknown", func(t *testing.T) {
		dir := copyFixture(t, "generic-jsonl")
		replaceLine(t, filepath.Join(dir, "interactions.jsonl"), 2, `{"user":"u1","item":"a2","value":4,"time":null}`)
		ds := load(t, dir)
		assert.Zero(t, ds.Interactions[1].Time, "null time")
		assert.False(t, ds.HasTime, "one unknown time: the dataset has no times")
	})
	t.Run("kuairec keeps fractional timestamps", func(t *testing.T) {
		ds := load(t, fixture("kuairec"))
		assert.Equal(t, int64(1593887303), ds.Interactions[0].Time, "KuaiRec timestamp 1593887303.438")
	})
}

// TestLoadInvalidUTF8: invalid bytes are replaced with U+FFFD, and the
// repair is counted per file (lines, first line), in Stats and as a
// warning line.
func TestLoadInvalidUTF8(t *testing.T) {
	for _, tc := range []struct {
		name, fixture, file string
		lines               []int
		rows                []string
		item, title         string
	}{
		{"generic items.jsonl", "generic-tiny", "items.jsonl", []int{2}, []string{"{\"id\": \"a2\", \"title\": \"Action \xffTwo\"}"}, "a2", "Action \uFFFDTwo"},
		{"latest movies.csv two lines", "ml-latest", "movies.csv", []int{4, 5}, []string{"3,Grumpier \xc3\x28Old Men (1995),Comedy|Romance", "11,\xffPresident,Comedy"}, "3", "Grumpier \uFFFD(Old Men (1995)"},
		{"esci products.csv", "esci", "products.csv", []int{2}, []string{"B01,Earbuds \xe2\x82,Brand,us"}, "B01", "Earbuds \uFFFD"},
		{"generic interactions.csv", "generic-tiny", "interactions.csv", []int{5}, []string{"u1,d1,5,9504000\xff"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFixture(t, tc.fixture)
			path := filepath.Join(dir, tc.file)
			for k, n := range tc.lines {
				replaceLine(t, path, n, tc.rows[k])
			}
			ds, err := Load(t.Context(), dir)
			if tc.item == "" { // the byte lands in a number: repaired, then rejected
				require.Error(t, err, "Load with invalid UTF-8 in a time")
				assert.Contains(t, err.Error(), path+":5", "Load: error names file and line")
				return
			}
			require.NoError(t, err, "Load with invalid UTF-8 in %s", tc.file)
			assert.Equal(t, tc.title, item(t, ds, tc.item).Title, "repaired title")
			want := []FileRepair{{File: path, Lines: len(tc.lines), FirstLine: tc.lines[0]}}
			assert.Equal(t, want, ds.InvalidUTF8, "Dataset.InvalidUTF8")
			assert.Equal(t, len(tc.lines), Summarize(ds).InvalidUTF8Lines, "Stats.InvalidUTF8Lines")
			require.Len(t, ds.Warnings(), 1, "Dataset.Warnings")
			w := ds.Warnings()[0]
			assert.Contains(t, w, path+": "+strconv.Itoa(len(tc.lines))+" line", "warning %q names file and count", w)
			assert.Contains(t, w, "line "+strconv.Itoa(tc.lines[0]), "warning %q names the first line", w)
		})
	}
	t.Run("valid files report nothing", func(t *testing.T) {
		ds := load(t, fixture("ml-latest"))
		assert.Empty(t, ds.InvalidUTF8)
		assert.Empty(t, ds.Warnings())
		assert.Zero(t, Summarize(ds).InvalidUTF8Lines)
	})
	t.Run("Latin-1 is decoded, not repaired", func(t *testing.T) {
		dir := copyFixture(t, "ml-1m")
		replaceLine(t, filepath.Join(dir, "movies.dat"), 1, "1::Caf\xe9 (1995)::Comedy")
		ds := load(t, dir)
		assert.Equal(t, "Café (1995)", item(t, ds, "1").Title)
		assert.Empty(t, ds.InvalidUTF8)
	})
}

// TestTextReaderLongLine: a line longer than the read buffer is repaired
// and counted as one line.
func TestTextReaderLongLine(t *testing.T) {
	long := strings.Repeat("x", 200<<10) + "\xff" + strings.Repeat("y", 100<<10)
	r := newTextReader(strings.NewReader(utf8BOM + "a\n" + long + "\nb\xfe\n"))
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "a\n"+strings.Replace(long, "\xff", "\uFFFD", 1)+"\nb\uFFFD\n", string(b))
	assert.Equal(t, FileRepair{Lines: 2, FirstLine: 2}, r.repair)
}
