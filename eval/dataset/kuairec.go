package dataset

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kuaiItem gathers what the KuaiRec side files say about one video.
type kuaiItem struct {
	tags     []string // item_categories.csv feat, as "tag N"
	title    string   // caption, else manual cover text
	names    []string // category names (caption file or daily tag name)
	hasNames bool     // names came from the caption file
}

// loadKuaiRec reads a KuaiRec matrix (small_matrix.csv preferred over
// big_matrix.csv) and the side files present: item_categories.csv,
// kuairec_caption_category.csv, item_daily_features.csv. Items the matrix
// names but no side file knows get the title "video ID".
func loadKuaiRec(ctx context.Context, src source, ds *Dataset) error {
	ds.LikeAt, ds.HasTime = 2, true
	meta := map[string]*kuaiItem{}
	var order []string
	for _, side := range []struct {
		file string
		fn   func(context.Context, *table, map[string]*kuaiItem, *[]string) error
		cols []string
	}{
		{"item_categories.csv", readKuaiCategories, []string{"video_id", "feat"}},
		{"kuairec_caption_category.csv", readKuaiCaptions, []string{"video_id", "caption"}},
		{"item_daily_features.csv", readKuaiDaily, []string{"video_id", "video_tag_name"}},
	} {
		if !src.has(side.file) {
			continue
		}
		err := withFile(src, ds, side.file, func(r io.Reader, file string) error {
			t, err := newTable(r, file, side.cols...)
			if err != nil {
				return fmt.Errorf("dataset: load items %w", err)
			}
			return side.fn(ctx, t, meta, &order)
		})
		if err != nil {
			return err
		}
	}
	for _, id := range order {
		if err := ds.addItem(meta[id].item(id)); err != nil {
			return fmt.Errorf("dataset: load items: %w", err)
		}
	}
	file := src.firstOf("small_matrix.csv", "big_matrix.csv")
	return withFile(src, ds, file, func(r io.Reader, display string) error {
		return readKuaiMatrix(ctx, r, display, ds)
	})
}

// item turns the gathered side information into a catalogue item.
func (k *kuaiItem) item(id string) Item {
	it := Item{ID: id, Title: k.title, Categories: k.names}
	if it.Title == "" {
		it.Title = "video " + id
	}
	if len(it.Categories) == 0 {
		it.Categories = k.tags
	}
	return it
}

// metaFor returns the entry of id, creating it (in first-seen order).
func metaFor(meta map[string]*kuaiItem, order *[]string, id string) *kuaiItem {
	k, ok := meta[id]
	if !ok {
		k = &kuaiItem{}
		meta[id] = k
		*order = append(*order, id)
	}
	return k
}

func readKuaiCategories(ctx context.Context, t *table, meta map[string]*kuaiItem, order *[]string) error {
	return t.each(ctx, "items", func(rec []string) error {
		id, err := parseVideoID(t.get(rec, "video_id"))
		if err != nil {
			return err
		}
		tags, err := parseFeat(t.get(rec, "feat"))
		if err != nil {
			return err
		}
		metaFor(meta, order, id).tags = tags
		return nil
	})
}

// parseFeat parses a KuaiRec feat list such as "[8]" or "[27, 9]" into
// "tag 8", "tag 27", "tag 9".
func parseFeat(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("bad feat %q: want a list like [27, 9]", s)
	}
	var tags []string
	for f := range strings.SplitSeq(s[1:len(s)-1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if _, err := strconv.Atoi(f); err != nil {
			return nil, fmt.Errorf("bad feat %q: %q is not an integer tag", s, f)
		}
		tags = append(tags, "tag "+f)
	}
	return tags, nil
}

func parseVideoID(s string) (string, error) {
	id, err := parseID("video_id", s)
	if err != nil {
		return "", err
	}
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return "", fmt.Errorf("bad video_id %q: want a non-negative integer", id)
	}
	return id, nil
}

// readKuaiCaptions takes the caption (else the cover text) as the title and
// the first-, second- and third-level category names as categories.
func readKuaiCaptions(ctx context.Context, t *table, meta map[string]*kuaiItem, order *[]string) error {
	return t.each(ctx, "items", func(rec []string) error {
		id, err := parseVideoID(t.get(rec, "video_id"))
		if err != nil {
			return err
		}
		k := metaFor(meta, order, id)
		k.title = cleanText(t.get(rec, "caption"))
		if k.title == "" {
			k.title = cleanText(t.get(rec, "manual_cover_text"))
		}
		k.names, k.hasNames = nil, true
		for _, col := range []string{"first_level_category_name", "second_level_category_name", "third_level_category_name"} {
			if n := cleanText(t.get(rec, col)); n != "" {
				k.names = append(k.names, n)
			}
		}
		return nil
	})
}

// cleanText collapses white space (captions hold bare \r and newlines) and
// maps KuaiRec's "UNKNOWN" placeholder to "".
func cleanText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "UNKNOWN" {
		return ""
	}
	return s
}

// readKuaiDaily adds each video's tag name as a category when the caption
// file gave none; the daily counters themselves are not used (popularity is
// counted from the interactions, so it respects the cut time).
func readKuaiDaily(ctx context.Context, t *table, meta map[string]*kuaiItem, order *[]string) error {
	return t.each(ctx, "item features", func(rec []string) error {
		id, err := parseVideoID(t.get(rec, "video_id"))
		if err != nil {
			return err
		}
		k := metaFor(meta, order, id)
		name := cleanText(t.get(rec, "video_tag_name"))
		if k.hasNames || name == "" || strings.EqualFold(name, "nan") || slices.Contains(k.names, name) {
			return nil
		}
		k.names = append(k.names, name)
		return nil
	})
}

// readKuaiMatrix reads user_id, video_id, watch_ratio and timestamp (Unix
// seconds, fractional), falling back to midnight of `date` (YYYYMMDD, China
// time) where the timestamp is empty or NaN, as in some KuaiRec rows.
func readKuaiMatrix(ctx context.Context, r io.Reader, file string, ds *Dataset) error {
	t, err := newTable(r, file, "user_id", "video_id", "watch_ratio")
	if err != nil {
		return fmt.Errorf("dataset: load interactions %w", err)
	}
	ids := interner{}
	return t.each(ctx, "interactions", func(rec []string) error {
		u, err := parseID("user_id", t.get(rec, "user_id"))
		if err != nil {
			return err
		}
		v, err := parseVideoID(t.get(rec, "video_id"))
		if err != nil {
			return err
		}
		w, err := parseValue("watch_ratio", t.get(rec, "watch_ratio"), 0, math.MaxFloat64)
		if err != nil {
			return err
		}
		ts, err := kuaiTime(t.get(rec, "timestamp"), t.get(rec, "date"))
		if err != nil {
			return err
		}
		if _, ok := ds.ItemIndex[v]; !ok {
			if err := ds.addItem(Item{ID: v, Title: "video " + v}); err != nil {
				return err
			}
		}
		ds.Interactions = append(ds.Interactions, Interaction{User: ids.get(u), Item: ids.get(v), Time: ts, Value: w})
		return nil
	})
}

func kuaiTime(ts, date string) (int64, error) {
	ts = strings.TrimSpace(ts)
	if ts != "" && !strings.EqualFold(ts, "nan") {
		return parseUnixFrac("timestamp", ts)
	}
	cst := time.FixedZone("CST", 8*3600) // China Standard Time, the zone of `date`
	d, err := time.ParseInLocation("20060102", strings.TrimSpace(strings.TrimSuffix(date, ".0")), cst)
	if err != nil {
		return 0, fmt.Errorf("no timestamp and bad date %q: want YYYYMMDD", date)
	}
	return d.Unix(), nil
}

// loadGCDR reads the derived KuaiRec positives: item_categories.txt
// (id TAB tag|tag) and, per user, valid.txt then test.txt (user TAB
// comma-separated items, oldest first). Every interaction gets value 1 and
// no time: file order stands for time.
func loadGCDR(ctx context.Context, src source, ds *Dataset) error {
	ds.LikeAt, ds.HasTime = 1, false
	err := withFile(src, ds, "item_categories.txt", func(r io.Reader, file string) error {
		return eachLine(ctx, r, func(line int, s string) error {
			if s == "" {
				return nil
			}
			if err := addGCDRItem(s, ds); err != nil {
				return fmt.Errorf("dataset: load items %s:%d: %w", file, line, err)
			}
			return nil
		})
	})
	if err == nil {
		err = needItems(src, ds, "item_categories.txt")
	}
	if err != nil {
		return err
	}
	ids := interner{}
	for _, name := range []string{"valid.txt", "test.txt"} {
		err := withFile(src, ds, name, func(r io.Reader, file string) error {
			return eachLine(ctx, r, func(line int, s string) error {
				if err := addGCDRSequence(s, ids, ds); err != nil {
					return fmt.Errorf("dataset: load interactions %s:%d: %w", file, line, err)
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func addGCDRItem(s string, ds *Dataset) error {
	id, cats, ok := strings.Cut(s, "\t")
	if !ok {
		return fmt.Errorf("want id<TAB>tag|tag")
	}
	id, err := parseVideoID(id)
	if err != nil {
		return err
	}
	it := Item{ID: id, Title: "video " + id}
	for c := range strings.SplitSeq(strings.TrimSpace(cats), "|") {
		if c == "" {
			continue
		}
		if _, err := strconv.Atoi(c); err != nil {
			return fmt.Errorf("bad tag %q: want an integer", c)
		}
		it.Categories = append(it.Categories, "tag "+c)
	}
	return ds.addItem(it)
}

func addGCDRSequence(s string, ids interner, ds *Dataset) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	user, seq, ok := strings.Cut(s, "\t")
	if !ok {
		return fmt.Errorf("want user<TAB>item,item,… (a user and a comma-separated item list)")
	}
	u, err := parseID("user", user)
	if err != nil {
		return err
	}
	u = ids.get(u)
	for v := range strings.SplitSeq(strings.TrimSpace(seq), ",") {
		if v == "" {
			continue
		}
		if _, ok := ds.ItemIndex[v]; !ok {
			return fmt.Errorf("item %q not in item_categories.txt", v)
		}
		ds.Interactions = append(ds.Interactions, Interaction{User: u, Item: ids.get(v), Value: 1})
	}
	return nil
}
