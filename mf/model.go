package mf

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// Model is a trained factorisation. Scores are μ + b_u + b_i + p_u·q_i for
// ALS (μ the global mean rating) and b_i + p_u·q_i for BPR (μ = 0, b_u = 0).
// A Model is immutable after Train or Load and safe for concurrent use.
type Model struct {
	algo    string
	factors int
	mean    float64
	users   index
	items   index
	ub, ib  []float64 // biases, one per user / item
	p, q    []float64 // factors, row-major: len(users)*factors, len(items)*factors
}

// index maps string ids to dense indices in order of first appearance.
type index struct {
	ids []string
	pos map[string]int
}

func newIndex() index { return index{pos: map[string]int{}} }

// add returns the index of id, adding it when new.
func (x *index) add(id string) int {
	if i, ok := x.pos[id]; ok {
		return i
	}
	x.pos[id] = len(x.ids)
	x.ids = append(x.ids, id)
	return len(x.ids) - 1
}

// Score returns the predicted value of the pair: the predicted rating for
// ALS, a ranking score for BPR. An unknown user drops the user terms
// (μ + b_i), an unknown item drops the item terms (μ + b_u), both unknown
// give μ. The result is always finite. Cost O(Factors) plus two map
// look-ups.
func (m *Model) Score(user, item string) float64 {
	u, uok := m.users.pos[user]
	i, iok := m.items.pos[item]
	s := m.mean
	if uok {
		s += m.ub[u]
	}
	if iok {
		s += m.ib[i]
	}
	if uok && iok {
		f := m.factors
		s += dot(m.p[u*f:(u+1)*f], m.q[i*f:(i+1)*f])
	}
	return s
}

// Known reports whether the user and the item appeared in the training data.
func (m *Model) Known(user, item string) (bool, bool) {
	_, uok := m.users.pos[user]
	_, iok := m.items.pos[item]
	return uok, iok
}

// Mean returns the global mean μ of the training values (0 for BPR).
func (m *Model) Mean() float64 { return m.mean }

// Algo returns the algorithm that trained the model.
func (m *Model) Algo() string { return m.algo }

// NumUsers returns how many users the model knows.
func (m *Model) NumUsers() int { return len(m.users.ids) }

// NumItems returns how many items the model knows.
func (m *Model) NumItems() int { return len(m.items.ids) }

func dot(a, b []float64) float64 {
	var s float64
	for k := range a {
		s += a[k] * b[k]
	}
	return s
}

// wire is the JSON form of a Model.
type wire struct {
	Version     int       `json:"version"`
	Algo        string    `json:"algo"`
	Factors     int       `json:"factors"`
	Mean        float64   `json:"mean"`
	Users       []string  `json:"users"`
	Items       []string  `json:"items"`
	UserBias    []float64 `json:"user_bias"`
	ItemBias    []float64 `json:"item_bias"`
	UserFactors []float64 `json:"user_factors"`
	ItemFactors []float64 `json:"item_factors"`
}

// MarshalJSON encodes the model as one JSON object (version 1), so that a
// Model can sit inside other JSON documents.
func (m *Model) MarshalJSON() ([]byte, error) {
	return json.Marshal(wire{
		Version: 1, Algo: m.algo, Factors: m.factors, Mean: m.mean,
		Users: m.users.ids, Items: m.items.ids,
		UserBias: m.ub, ItemBias: m.ib, UserFactors: m.p, ItemFactors: m.q,
	})
}

// UnmarshalJSON decodes and validates what MarshalJSON wrote.
func (m *Model) UnmarshalJSON(data []byte) error {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("mf: decode model: %w", err)
	}
	if err := w.check(); err != nil {
		return err
	}
	*m = Model{algo: w.Algo, factors: w.Factors, mean: w.Mean,
		users: newIndex(), items: newIndex(),
		ub: w.UserBias, ib: w.ItemBias, p: w.UserFactors, q: w.ItemFactors}
	for _, id := range w.Users {
		m.users.add(id)
	}
	for _, id := range w.Items {
		m.items.add(id)
	}
	if len(m.users.ids) != len(w.Users) || len(m.items.ids) != len(w.Items) {
		return fmt.Errorf("mf: decode model: duplicate user or item id")
	}
	return nil
}

func (w *wire) check() error {
	nu, ni, f := len(w.Users), len(w.Items), w.Factors
	switch {
	case w.Version != 1:
		return fmt.Errorf("mf: decode model: version %d, want 1", w.Version)
	case w.Algo != AlgoALS && w.Algo != AlgoBPR:
		return fmt.Errorf("mf: decode model: algo %q, want als or bpr", w.Algo)
	case f < 1:
		return fmt.Errorf("mf: decode model: factors %d, want >= 1", f)
	case len(w.UserBias) != nu || len(w.ItemBias) != ni || len(w.UserFactors) != nu*f || len(w.ItemFactors) != ni*f:
		return fmt.Errorf("mf: decode model: array lengths do not match %d users, %d items, %d factors", nu, ni, f)
	case !finite(w.Mean) || !allFinite(w.UserBias) || !allFinite(w.ItemBias) ||
		!allFinite(w.UserFactors) || !allFinite(w.ItemFactors):
		return fmt.Errorf("mf: decode model: non-finite parameter")
	}
	return nil
}

// Save writes the model to w as JSON.
func (m *Model) Save(w io.Writer) error {
	if err := json.NewEncoder(w).Encode(m); err != nil {
		return fmt.Errorf("mf: save model: %w", err)
	}
	return nil
}

// Load reads a model written by Save. Malformed or inconsistent input gives
// an error prefixed "mf: decode model".
func Load(r io.Reader) (*Model, error) {
	m := new(Model)
	if err := json.NewDecoder(r).Decode(m); err != nil {
		return nil, fmt.Errorf("mf: load model: %w", err)
	}
	return m, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func allFinite(xs []float64) bool {
	for _, v := range xs {
		if !finite(v) {
			return false
		}
	}
	return true
}
