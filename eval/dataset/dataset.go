// Package dataset loads recommendation datasets (MovieLens 100K, 1M and
// latest-small, KuaiRec, ESCI-style search judgements, and a generic
// items-plus-interactions layout) and builds need-specific episodes from
// them. It sits apart from package eval, which scores rankings, because
// every stage before evaluation (rollouts, the critic, the testbed) needs
// episodes but none of them needs metrics or reports.
package dataset

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

// Dataset is a loaded dataset. Items is indexed by ItemIndex.
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
}
