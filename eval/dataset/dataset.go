// Package dataset loads recommendation datasets (MovieLens 100K, 1M and
// latest-small, KuaiRec, ESCI-style search judgements, and a generic
// items-plus-interactions layout) and builds need-specific episodes from
// them. It sits apart from package eval, which scores rankings, because
// every stage before evaluation (rollouts, the critic, the testbed) needs
// episodes but none of them needs metrics or reports.
//
// Loading (Load) validates every row as it reads; a bad row names its file
// and line. Building (Build) turns a Dataset into a Split: one
// prompt.Episode per user (or per query, for search) with its candidate set
// and dense-truth labels, plus the training interactions that rankers and
// critics may learn from. Both are deterministic: the same inputs and
// BuildConfig give byte-identical episode files (WriteEpisodes).
package dataset

import "github.com/flexrec/flexrec/mf"

import (
	"fmt"
	"strconv"
	"strings"
)

// Layout names, as Dataset.Layout reports them.
const (
	// LayoutMovieLens100K is MovieLens 100K: u.data and u.item.
	LayoutMovieLens100K = "movielens-100k"
	// LayoutMovieLens1M is MovieLens 1M: ratings.dat and movies.dat.
	LayoutMovieLens1M = "movielens-1m"
	// LayoutMovieLensLatest is MovieLens latest(-small): ratings.csv,
	// movies.csv and, when present, tags.csv.
	LayoutMovieLensLatest = "movielens-latest"
	// LayoutKuaiRec is KuaiRec 2.0: small_matrix.csv or big_matrix.csv with
	// item_categories.csv, item_daily_features.csv and
	// kuairec_caption_category.csv when present.
	LayoutKuaiRec = "kuairec"
	// LayoutKuaiRecGCDR is the derived KuaiRec positives of GCDR: valid.txt
	// and test.txt (user TAB comma-separated items) with item_categories.txt.
	LayoutKuaiRecGCDR = "kuairec-gcdr-derived"
	// LayoutESCI is ESCI-style search judgements: examples.csv and
	// products.csv.
	LayoutESCI = "esci"
	// LayoutGeneric is the documented bring-your-own layout: items.jsonl with
	// interactions.csv or interactions.jsonl.
	LayoutGeneric = "generic"
)

// BuiltinMLLatestSmall is the name of the embedded default dataset.
const BuiltinMLLatestSmall = "ml-latest-small"

// Item is one catalogue item.
type Item struct {
	// ID is the dataset's item id.
	ID string `json:"id"`
	// Title is the item's title, caption or product text.
	Title string `json:"title"`
	// Categories are the item's genres or categories.
	Categories []string `json:"categories,omitempty"`
}

// Interaction is one user–item feedback event.
type Interaction struct {
	// User is the dataset's user id.
	User string `json:"user"`
	// Item is the dataset's item id.
	Item string `json:"item"`
	// Time is the event time in Unix seconds; 0 when unknown.
	Time int64 `json:"time,omitempty"`
	// Value is the engagement: a rating (MovieLens) or a watch ratio (KuaiRec).
	Value float64 `json:"value"`
}

// Judgement is one graded query–product relevance label (ESCI style).
type Judgement struct {
	// QueryID identifies the query.
	QueryID string `json:"query_id"`
	// Query is the query text.
	Query string `json:"query"`
	// Item is the product id.
	Item string `json:"item"`
	// Label is the grade: E, S, C or I for ESCI.
	Label string `json:"label"`
}

// Tag is one free-text tag a user put on an item (MovieLens tags.csv).
type Tag struct {
	// User is the dataset's user id.
	User string `json:"user"`
	// Item is the dataset's item id.
	Item string `json:"item"`
	// Tag is the tag text.
	Tag string `json:"tag"`
	// Time is the tagging time in Unix seconds.
	Time int64 `json:"time,omitempty"`
}

// Dataset is a loaded dataset. Items is indexed by ItemIndex. A Dataset is
// not changed by Build or Summarize, so it may be shared by concurrent
// readers once loaded.
type Dataset struct {
	// Name is the built-in name or the folder it was loaded from.
	Name string `json:"name"`
	// Layout names the detected layout, e.g. "movielens-100k".
	Layout string `json:"layout"`
	// Items is the catalogue.
	Items []Item `json:"items"`
	// Interactions are the feedback events, in file order.
	Interactions []Interaction `json:"interactions"`
	// Judgements are query–product labels (search datasets only).
	Judgements []Judgement `json:"judgements,omitempty"`
	// ItemIndex maps an item id to its position in Items.
	ItemIndex map[string]int `json:"-"`
	// Tags are user tags (MovieLens latest only); the builder ignores them.
	Tags []Tag `json:"tags,omitempty"`
	// LikeAt is the engagement at or above which an interaction counts as a
	// like on this dataset's scale: 4 for MovieLens ratings, 2 for KuaiRec
	// watch ratios (the KuaiRec authors' suggestion), 1 for positives-only
	// data, 4 for the generic layout. Build scales the built-in needs'
	// thresholds by LikeAt/4. Zero means 4.
	LikeAt float64 `json:"like_at,omitempty"`
	// HasTime reports whether interactions carry real times. Without them
	// file order stands for time, and the temporal split and the trend need
	// are unavailable.
	HasTime bool `json:"has_time"`
	// InvalidUTF8 lists the files in which the loader replaced invalid
	// UTF-8 with U+FFFD, in reading order; nil when every file was valid
	// UTF-8 (Latin-1 files are decoded, never repaired). Warnings gives the
	// same as lines to print.
	InvalidUTF8 []FileRepair `json:"invalid_utf8,omitempty"`
}

// Warnings returns one line per repair the loader made to the files' bytes
// (see InvalidUTF8), for the caller to print or log; nil when there were
// none.
func (d *Dataset) Warnings() []string {
	var out []string
	for _, r := range d.InvalidUTF8 {
		out = append(out, r.String())
	}
	return out
}

// Item returns the catalogue item with the given id.
func (d *Dataset) Item(id string) (Item, bool) {
	i, ok := d.ItemIndex[id]
	if !ok {
		return Item{}, false
	}
	return d.Items[i], true
}

// likeAt returns LikeAt with its zero value resolved.
func (d *Dataset) likeAt() float64 {
	if d.LikeAt > 0 {
		return d.LikeAt
	}
	return 4
}

// addItem appends it to the catalogue; a duplicate id is an error.
func (d *Dataset) addItem(it Item) error {
	if d.ItemIndex == nil {
		d.ItemIndex = make(map[string]int)
	}
	if _, dup := d.ItemIndex[it.ID]; dup {
		return fmt.Errorf("duplicate item id %q", it.ID)
	}
	d.ItemIndex[it.ID] = len(d.Items)
	d.Items = append(d.Items, it)
	return nil
}

// compareIDs orders ids numerically when both are integers and by bytes
// otherwise, so user "2" sorts before user "10".
func compareIDs(a, b string) int {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		return cmpInt(x, y)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

func cmpInt(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// Ratings returns interactions as the (user, item, value) triples that
// package mf trains on, in the same order.
func Ratings(ins []Interaction) []mf.Rating {
	out := make([]mf.Rating, len(ins))
	for i, in := range ins {
		out[i] = mf.Rating{User: in.User, Item: in.Item, Value: in.Value}
	}
	return out
}
