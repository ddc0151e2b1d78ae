package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// ml100KGenres returns the 19 genre flags of u.item, in column order.
func ml100KGenres() [19]string {
	return [...]string{"unknown", "Action", "Adventure", "Animation",
		"Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
		"Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
		"Thriller", "War", "Western"}
}

// latin1 wraps r so that ISO 8859-1 bytes come out as UTF-8.
func latin1(r io.Reader) io.Reader { return charmap.ISO8859_1.NewDecoder().Reader(r) }

// movieLens sets the scale fields every MovieLens layout shares.
func movieLens(ds *Dataset) {
	ds.LikeAt = 4
	ds.HasTime = true
}

// loadML100K reads u.item (pipe-separated, Latin-1, 5 fields then 19 genre
// flags) and u.data (user TAB item TAB rating TAB time).
func loadML100K(ctx context.Context, src source, ds *Dataset) error {
	movieLens(ds)
	err := withRawFile(src, "u.item", func(r io.Reader, file string) error {
		return eachLine(ctx, latin1(r), func(line int, s string) error {
			if s == "" {
				return nil
			}
			it, err := parseML100KItem(s)
			if err == nil {
				err = ds.addItem(it)
			}
			if err != nil {
				return fmt.Errorf("dataset: load items %s:%d: %w", file, line, err)
			}
			return nil
		})
	})
	if err == nil {
		err = needItems(src, ds, "u.item")
	}
	if err != nil {
		return err
	}
	return withFile(src, ds, "u.data", func(r io.Reader, file string) error {
		return readSeparated(ctx, r, file, "\t", ds)
	})
}

func parseML100KItem(s string) (Item, error) {
	f := strings.Split(s, "|")
	genres := ml100KGenres()
	if len(f) != 5+len(genres) {
		return Item{}, fmt.Errorf("%d fields, want %d", len(f), 5+len(genres))
	}
	id, err := parseID("movie id", f[0])
	if err != nil {
		return Item{}, err
	}
	it := Item{ID: id, Title: strings.TrimSpace(f[1])}
	for g, flag := range f[5:] {
		switch flag {
		case "1":
			if g > 0 { // "unknown" is the absence of a genre, not one
				it.Categories = append(it.Categories, genres[g])
			}
		case "0":
		default:
			return Item{}, fmt.Errorf("genre flag %d is %q, want 0 or 1", g+1, flag)
		}
	}
	return it, nil
}

// readSeparated reads rating rows "user SEP item SEP rating SEP time"
// (MovieLens 100K and 1M) into ds, checking the item against the catalogue.
func readSeparated(ctx context.Context, r io.Reader, file, sep string, ds *Dataset) error {
	ids := interner{}
	return eachLine(ctx, r, func(line int, s string) error {
		if s == "" {
			return nil
		}
		f := strings.Split(s, sep)
		if len(f) != 4 {
			return fmt.Errorf("dataset: load ratings %s:%d: %d fields, want 4 (user%[4]sitem%[4]srating%[4]stime)", file, line, len(f), strings.ReplaceAll(sep, "\t", "<TAB>"))
		}
		in, err := parseRating(ids, f[0], f[1], f[2], f[3], ds)
		if err != nil {
			return fmt.Errorf("dataset: load ratings %s:%d: %w", file, line, err)
		}
		ds.Interactions = append(ds.Interactions, in)
		return nil
	})
}

// parseRating validates one MovieLens rating: known movie, rating in
// [0.5, 5], a Unix time.
func parseRating(ids interner, user, item, rating, ts string, ds *Dataset) (Interaction, error) {
	u, err := parseID("user id", user)
	if err != nil {
		return Interaction{}, err
	}
	i, err := parseID("movie id", item)
	if err != nil {
		return Interaction{}, err
	}
	if _, ok := ds.ItemIndex[i]; !ok {
		return Interaction{}, fmt.Errorf("movie %q not in the catalogue", i)
	}
	v, err := parseValue("rating", rating, 0.5, 5)
	if err != nil {
		return Interaction{}, err
	}
	t, err := parseUnix("timestamp", ts)
	if err != nil {
		return Interaction{}, err
	}
	return Interaction{User: ids.get(u), Item: ids.get(i), Time: t, Value: v}, nil
}

// loadML1M reads movies.dat (id::title::genres, Latin-1) and ratings.dat
// (user::item::rating::time).
func loadML1M(ctx context.Context, src source, ds *Dataset) error {
	movieLens(ds)
	err := withRawFile(src, "movies.dat", func(r io.Reader, file string) error {
		return eachLine(ctx, latin1(r), func(line int, s string) error {
			if s == "" {
				return nil
			}
			f := strings.Split(s, "::")
			if len(f) != 3 {
				return fmt.Errorf("dataset: load items %s:%d: %d fields, want 3 (id::title::genres)", file, line, len(f))
			}
			id, err := parseID("movie id", f[0])
			if err == nil {
				err = ds.addItem(Item{ID: id, Title: strings.TrimSpace(f[1]), Categories: splitGenres(f[2])})
			}
			if err != nil {
				return fmt.Errorf("dataset: load items %s:%d: %w", file, line, err)
			}
			return nil
		})
	})
	if err == nil {
		err = needItems(src, ds, "movies.dat")
	}
	if err != nil {
		return err
	}
	return withFile(src, ds, "ratings.dat", func(r io.Reader, file string) error {
		return readSeparated(ctx, r, file, "::", ds)
	})
}

// splitGenres splits a pipe-separated genre list; "(no genres listed)" is
// no genre.
func splitGenres(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" || s == "(no genres listed)" {
		return nil
	}
	return strings.Split(s, "|")
}

// loadMLLatest reads movies.csv, ratings.csv and, when present, tags.csv
// (MovieLens latest and latest-small: UTF-8, CRLF, quoted titles).
func loadMLLatest(ctx context.Context, src source, ds *Dataset) error {
	movieLens(ds)
	for _, step := range []struct {
		file string
		fn   func(context.Context, io.Reader, string, *Dataset) error
	}{
		{"movies.csv", readMLMovies}, {"ratings.csv", readMLRatings}, {"tags.csv", readMLTags},
	} {
		if step.file == "tags.csv" && !src.has(step.file) {
			continue
		}
		err := withFile(src, ds, step.file, func(r io.Reader, file string) error {
			return step.fn(ctx, r, file, ds)
		})
		if err == nil && step.file == "movies.csv" {
			err = needItems(src, ds, step.file)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func readMLMovies(ctx context.Context, r io.Reader, file string, ds *Dataset) error {
	t, err := newTable(r, file, "movieId", "title", "genres")
	if err != nil {
		return fmt.Errorf("dataset: load items %w", err)
	}
	return t.each(ctx, "items", func(rec []string) error {
		id, err := parseID("movieId", t.get(rec, "movieId"))
		if err != nil {
			return err
		}
		return ds.addItem(Item{ID: id, Title: strings.TrimSpace(t.get(rec, "title")), Categories: splitGenres(t.get(rec, "genres"))})
	})
}

func readMLRatings(ctx context.Context, r io.Reader, file string, ds *Dataset) error {
	t, err := newTable(r, file, "userId", "movieId", "rating", "timestamp")
	if err != nil {
		return fmt.Errorf("dataset: load ratings %w", err)
	}
	ids := interner{}
	return t.each(ctx, "ratings", func(rec []string) error {
		in, err := parseRating(ids, t.get(rec, "userId"), t.get(rec, "movieId"), t.get(rec, "rating"), t.get(rec, "timestamp"), ds)
		if err != nil {
			return err
		}
		ds.Interactions = append(ds.Interactions, in)
		return nil
	})
}

func readMLTags(ctx context.Context, r io.Reader, file string, ds *Dataset) error {
	t, err := newTable(r, file, "userId", "movieId", "tag", "timestamp")
	if err != nil {
		return fmt.Errorf("dataset: load tags %w", err)
	}
	return t.each(ctx, "tags", func(rec []string) error {
		u, err := parseID("userId", t.get(rec, "userId"))
		if err != nil {
			return err
		}
		i, err := parseID("movieId", t.get(rec, "movieId"))
		if err != nil {
			return err
		}
		if _, ok := ds.ItemIndex[i]; !ok {
			return fmt.Errorf("movie %q not in the catalogue", i)
		}
		ts, err := parseUnix("timestamp", t.get(rec, "timestamp"))
		if err != nil {
			return err
		}
		ds.Tags = append(ds.Tags, Tag{User: u, Item: i, Tag: t.get(rec, "tag"), Time: ts})
		return nil
	})
}

// each calls fn on every record of t; an error of fn or of the CSV reader
// is returned as "dataset: load WHAT FILE:LINE: ERR".
func (t *table) each(ctx context.Context, what string, fn func(rec []string) error) error {
	for {
		rec, line, err := t.next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if line > 0 {
				return fmt.Errorf("dataset: load %s %w", what, err)
			}
			return fmt.Errorf("dataset: load %s %s: %w", what, t.file, err)
		}
		if err := fn(rec); err != nil {
			return fmt.Errorf("dataset: load %s %s:%d: %w", what, t.file, line, err)
		}
	}
}
