package dataset

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flexrec/flexrec"
)

// Load returns the dataset named by spec: the built-in name
// "ml-latest-small" (the embedded official zip), a folder whose layout is
// detected from the files in it (see DetectLayout), or a .zip file holding
// such a folder. Every row is validated as it is read; an error names the
// file and line of the first bad row. A cancelled ctx stops the read.
func Load(ctx context.Context, spec string) (*Dataset, error) {
	if spec == BuiltinMLLatestSmall {
		r := flexrec.MLLatestSmallZip()
		zr, err := zip.NewReader(r, r.Size())
		if err != nil {
			return nil, fmt.Errorf("dataset: open embedded %s: %w", spec, err)
		}
		return loadFS(ctx, source{fsys: zr, dir: ".", name: "ml-latest-small.zip"}, spec)
	}
	st, err := os.Stat(spec)
	if err != nil {
		return nil, fmt.Errorf("dataset: unknown dataset %q: not a built-in name (%s) nor a readable folder or .zip: %w", spec, BuiltinMLLatestSmall, err)
	}
	if st.IsDir() {
		return loadFS(ctx, source{fsys: os.DirFS(spec), dir: ".", name: spec}, spec)
	}
	if !strings.EqualFold(filepath.Ext(spec), ".zip") {
		return nil, fmt.Errorf("dataset: %s: a dataset is a folder or a .zip, not a single file", spec)
	}
	zr, err := zip.OpenReader(spec)
	if err != nil {
		return nil, fmt.Errorf("dataset: open %s: %w", spec, err)
	}
	defer zr.Close() // read-only: a close error cannot lose data
	return loadFS(ctx, source{fsys: zr, dir: ".", name: spec}, spec)
}

func loadFS(ctx context.Context, src source, name string) (*Dataset, error) {
	layout, src, err := detect(src, 2)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{Name: name, Layout: layout, ItemIndex: make(map[string]int)}
	if err := loaderFor(layout)(ctx, src, ds); err != nil {
		return nil, err
	}
	return ds, nil
}

// loaderFor returns the function that fills a Dataset of the layout.
func loaderFor(layout string) func(context.Context, source, *Dataset) error {
	switch layout {
	case LayoutMovieLens100K:
		return loadML100K
	case LayoutMovieLens1M:
		return loadML1M
	case LayoutMovieLensLatest:
		return loadMLLatest
	case LayoutKuaiRec:
		return loadKuaiRec
	case LayoutKuaiRecGCDR:
		return loadGCDR
	case LayoutESCI:
		return loadESCI
	}
	return loadGeneric
}

// layoutSign is a layout and the sets of files that identify it: it
// matches when every file of one of its alternatives is present.
type layoutSign struct {
	layout string
	any    [][]string
}

// layoutSigns lists the layouts in detection priority order.
func layoutSigns() []layoutSign {
	return []layoutSign{
		{LayoutMovieLensLatest, [][]string{{"ratings.csv", "movies.csv"}}},
		{LayoutMovieLens1M, [][]string{{"ratings.dat", "movies.dat"}}},
		{LayoutMovieLens100K, [][]string{{"u.data", "u.item"}}},
		{LayoutKuaiRec, [][]string{{"small_matrix.csv"}, {"big_matrix.csv"}}},
		{LayoutKuaiRecGCDR, [][]string{{"valid.txt", "test.txt", "item_categories.txt"}}},
		{LayoutESCI, [][]string{{"examples.csv", "products.csv"}}},
		{LayoutGeneric, [][]string{{"items.jsonl", "interactions.csv"}, {"items.jsonl", "interactions.jsonl"}}},
	}
}

// DetectLayout returns the layout of the dataset folder dir (one of the
// Layout constants), looking one folder down when dir holds a single
// subfolder and nothing it recognises. The error says which files each
// layout needs.
func DetectLayout(dir string) (string, error) {
	layout, _, err := detect(source{fsys: os.DirFS(dir), dir: ".", name: dir}, 2)
	return layout, err
}

func detect(src source, depth int) (string, source, error) {
	entries, err := fs.ReadDir(src.fsys, src.dir)
	if err != nil {
		return "", src, fmt.Errorf("dataset: read %s: %w", src.name, err)
	}
	files := map[string]bool{}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		} else {
			files[e.Name()] = true
		}
	}
	for _, s := range layoutSigns() {
		for _, alt := range s.any {
			if allIn(alt, files) {
				return s.layout, src, nil
			}
		}
	}
	if len(dirs) == 1 && depth > 0 {
		return detect(source{fsys: src.fsys, dir: path.Join(src.dir, dirs[0]), name: src.name}, depth-1)
	}
	if files["item_categories.csv"] || files["kuairec_caption_category.csv"] {
		return "", src, fmt.Errorf("dataset: %s: KuaiRec metadata found but no small_matrix.csv or big_matrix.csv: the interaction matrix is required", src.name)
	}
	return "", src, fmt.Errorf("dataset: %s: unknown layout; want one of: %s", src.name, layoutHelp())
}

func allIn(names []string, set map[string]bool) bool {
	for _, n := range names {
		if !set[n] {
			return false
		}
	}
	return true
}

func layoutHelp() string {
	var parts []string
	for _, s := range layoutSigns() {
		var alts []string
		for _, alt := range s.any {
			alts = append(alts, strings.Join(alt, "+"))
		}
		parts = append(parts, s.layout+" ("+strings.Join(alts, " or ")+")")
	}
	return strings.Join(parts, ", ")
}

// source is a dataset folder inside a file system (a directory, a zip).
type source struct {
	fsys fs.FS
	dir  string // folder within fsys, "." for the root
	name string // what errors call the dataset: its path or zip name
}

// has reports whether file exists in the folder.
func (s source) has(file string) bool {
	_, err := fs.Stat(s.fsys, path.Join(s.dir, file))
	return err == nil
}

// open opens file of the folder.
func (s source) open(file string) (io.ReadCloser, error) {
	f, err := s.fsys.Open(path.Join(s.dir, file))
	if err != nil {
		return nil, fmt.Errorf("dataset: open %s: %w", s.path(file), err)
	}
	return f, nil
}

// path is the display path of file, for error messages.
func (s source) path(file string) string {
	if s.dir == "." {
		return filepath.Join(s.name, file)
	}
	return filepath.Join(s.name, filepath.FromSlash(s.dir), file)
}

// firstOf returns the first of files present in the folder, or "".
func (s source) firstOf(files ...string) string {
	i := slices.IndexFunc(files, s.has)
	if i < 0 {
		return ""
	}
	return files[i]
}
