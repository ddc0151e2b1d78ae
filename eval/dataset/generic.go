package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// loadGeneric reads the bring-your-own layout: items.jsonl (one
// {"id","title","categories"} object a line) and interactions.csv (header
// user,item,value,time; time may be empty) or interactions.jsonl (one
// {"user","item","value","time"} object a line). Ids are strings; value is
// any finite number >= 0; time is whole Unix seconds (a fraction is an
// error), 0, null or absent when unknown.
// The dataset has times only when every interaction has one.
func loadGeneric(ctx context.Context, src source, ds *Dataset) error {
	ds.LikeAt = 4
	err := withFile(src, ds, "items.jsonl", func(r io.Reader, file string) error {
		return eachLine(ctx, r, func(line int, s string) error {
			if strings.TrimSpace(s) == "" {
				return nil
			}
			if err := addGenericItem([]byte(s), ds); err != nil {
				return fmt.Errorf("dataset: load items %s:%d: %w", file, line, err)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if len(ds.Items) == 0 {
		return fmt.Errorf("dataset: load items %s: %w", src.path("items.jsonl"), ErrEmptyFile)
	}
	file, read := "interactions.csv", readGenericCSV
	if !src.has(file) {
		file, read = "interactions.jsonl", readGenericJSONL
	}
	err = withFile(src, ds, file, func(r io.Reader, display string) error {
		return read(ctx, r, display, ds)
	})
	if err != nil {
		return err
	}
	if len(ds.Interactions) == 0 {
		return fmt.Errorf("dataset: load interactions %s: %w", src.path(file), ErrEmptyFile)
	}
	ds.HasTime = len(ds.Interactions) > 0
	for _, in := range ds.Interactions {
		ds.HasTime = ds.HasTime && in.Time > 0
	}
	return nil
}

func addGenericItem(line []byte, ds *Dataset) error {
	var it Item
	if err := json.Unmarshal(line, &it); err != nil {
		return fmt.Errorf("decode item: %w", err)
	}
	if strings.TrimSpace(it.ID) == "" {
		return fmt.Errorf("item has no id")
	}
	for _, c := range it.Categories {
		if strings.TrimSpace(c) == "" {
			return fmt.Errorf("item %q: empty category", it.ID)
		}
	}
	return ds.addItem(it)
}

func readGenericCSV(ctx context.Context, r io.Reader, file string, ds *Dataset) error {
	t, err := newTable(r, file, "user", "item", "value")
	if err != nil {
		return fmt.Errorf("dataset: load interactions %w", err)
	}
	ids := interner{}
	return t.each(ctx, "interactions", func(rec []string) error {
		in := Interaction{User: strings.TrimSpace(t.get(rec, "user")), Item: strings.TrimSpace(t.get(rec, "item"))}
		v, err := parseValue("value", t.get(rec, "value"), 0, math.MaxFloat64)
		if err != nil {
			return err
		}
		in.Value = v
		if ts := strings.TrimSpace(t.get(rec, "time")); ts != "" {
			if in.Time, err = parseUnix("time", ts); err != nil {
				return err
			}
		}
		return addGenericInteraction(in, ids, ds)
	})
}

// genericRow is one line of interactions.jsonl; pointers tell a missing
// value from zero.
type genericRow struct {
	User  *string         `json:"user"`
	Item  *string         `json:"item"`
	Value *float64        `json:"value"`
	Time  json.RawMessage `json:"time"` // whole Unix seconds; see parseUnix
}

func readGenericJSONL(ctx context.Context, r io.Reader, file string, ds *Dataset) error {
	ids := interner{}
	return eachLine(ctx, r, func(line int, s string) error {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		var row genericRow
		err := json.NewDecoder(bytes.NewReader([]byte(s))).Decode(&row)
		switch {
		case err != nil:
			err = fmt.Errorf("decode interaction: %w", err)
		case row.User == nil || row.Item == nil || row.Value == nil:
			err = fmt.Errorf("interaction needs user, item and value")
		case *row.Value < 0 || math.IsInf(*row.Value, 0):
			err = fmt.Errorf("value %v, want a finite number >= 0", *row.Value)
		default:
			err = addGenericRow(row, ids, ds)
		}
		if err != nil {
			return fmt.Errorf("dataset: load interactions %s:%d: %w", file, line, err)
		}
		return nil
	})
}

// addGenericRow checks the time of a decoded interactions.jsonl row and
// adds it; a missing or null time is 0 (unknown).
func addGenericRow(row genericRow, ids interner, ds *Dataset) error {
	in := Interaction{User: *row.User, Item: *row.Item, Value: *row.Value}
	if len(row.Time) > 0 && string(row.Time) != "null" {
		t, err := parseUnix("time", string(row.Time))
		if err != nil {
			return err
		}
		in.Time = t
	}
	return addGenericInteraction(in, ids, ds)
}

func addGenericInteraction(in Interaction, ids interner, ds *Dataset) error {
	if strings.TrimSpace(in.User) == "" || strings.TrimSpace(in.Item) == "" {
		return fmt.Errorf("empty user or item")
	}
	if _, ok := ds.ItemIndex[in.Item]; !ok {
		return fmt.Errorf("item %q not in items.jsonl", in.Item)
	}
	in.User, in.Item = ids.get(in.User), ids.get(in.Item)
	ds.Interactions = append(ds.Interactions, in)
	return nil
}
