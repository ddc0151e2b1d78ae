package dataset

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// esciLabels are the ESCI grades: Exact, Substitute, Complement, Irrelevant.
const esciLabels = "ESCI"

// loadESCI reads products.csv (product_id, product_title; other columns
// ignored) and examples.csv (query_id, query, product_id, esci_label; other
// columns, e.g. product_locale or split, ignored). A judgement must name a
// known product and a label E, S, C or I (any case); the same query id must
// always carry the same query text.
func loadESCI(ctx context.Context, src source, ds *Dataset) error {
	ds.LikeAt, ds.HasTime = 1, false
	err := withFile(src, ds, "products.csv", func(r io.Reader, file string) error {
		t, err := newTable(r, file, "product_id", "product_title")
		if err != nil {
			return fmt.Errorf("dataset: load items %w", err)
		}
		return t.each(ctx, "items", func(rec []string) error {
			id, err := parseID("product_id", t.get(rec, "product_id"))
			if err != nil {
				return err
			}
			return ds.addItem(Item{ID: id, Title: cleanText(t.get(rec, "product_title"))})
		})
	})
	if err == nil {
		err = needItems(src, ds, "products.csv")
	}
	if err != nil {
		return err
	}
	return withFile(src, ds, "examples.csv", func(r io.Reader, file string) error {
		t, err := newTable(r, file, "query_id", "query", "product_id", "esci_label")
		if err != nil {
			return fmt.Errorf("dataset: load judgements %w", err)
		}
		queries := map[string]string{}
		return t.each(ctx, "judgements", func(rec []string) error {
			j, err := parseJudgement(t, rec, ds)
			if err != nil {
				return err
			}
			if q, ok := queries[j.QueryID]; ok && q != j.Query {
				return fmt.Errorf("query_id %q has query %q here but %q before", j.QueryID, j.Query, q)
			}
			queries[j.QueryID] = j.Query
			ds.Judgements = append(ds.Judgements, j)
			return nil
		})
	})
}

func parseJudgement(t *table, rec []string, ds *Dataset) (Judgement, error) {
	qid, err := parseID("query_id", t.get(rec, "query_id"))
	if err != nil {
		return Judgement{}, err
	}
	pid, err := parseID("product_id", t.get(rec, "product_id"))
	if err != nil {
		return Judgement{}, err
	}
	if _, ok := ds.ItemIndex[pid]; !ok {
		return Judgement{}, fmt.Errorf("product %q not in products.csv", pid)
	}
	label := strings.ToUpper(strings.TrimSpace(t.get(rec, "esci_label")))
	if len(label) != 1 || !strings.Contains(esciLabels, label) {
		return Judgement{}, fmt.Errorf("esci_label %q, want E, S, C or I", t.get(rec, "esci_label"))
	}
	q := cleanText(t.get(rec, "query"))
	if q == "" {
		return Judgement{}, fmt.Errorf("empty query")
	}
	return Judgement{QueryID: qid, Query: q, Item: pid, Label: label}, nil
}
