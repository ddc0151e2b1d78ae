package eval

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/prompt"
)

// interactions is the binary user–item matrix of the training interactions
// in both compressed layouts. Users and items are numbered in order of first
// appearance; a pair seen twice counts once. It is immutable once built.
type interactions struct {
	users, items map[string]int32
	userItems    [][]int32 // per user, the items met, ascending
	itemUsers    [][]int32 // per item, the users who met it, ascending
	scratch      sync.Pool // of *[]float64: one value per user, all zero
}

// vector returns a ranking's scratch: one value per user, all zero, from
// the pool. The ranking gives it back with release after zeroing exactly
// the entries it set, so a ranking costs what it touches, not the number
// of users: that keeps its cost independent of the size of the data.
func (m *interactions) vector() []float64 {
	if w, ok := m.scratch.Get().(*[]float64); ok {
		return *w
	}
	return make([]float64, len(m.userItems))
}

// release returns w, zeroed by the caller, to the pool.
func (m *interactions) release(w []float64) { m.scratch.Put(&w) }

// clearUsers zeroes w at every user who met an item of p; work is the
// number of such (item, user) entries. Past an eighth of the users it
// clears the whole vector, a memclr being faster than scattered stores:
// either way the cost is at most 8·work.
func (m *interactions) clearUsers(w []float64, p []int32, work int) {
	if 8*work >= len(w) {
		clear(w)
		return
	}
	for _, j := range p {
		for _, v := range m.itemUsers[j] {
			w[v] = 0
		}
	}
}

// newInteractions indexes the training interactions.
func newInteractions(train []dataset.Interaction) *interactions {
	m := &interactions{users: map[string]int32{}, items: map[string]int32{}}
	seen := make(map[[2]int32]bool, len(train))
	for _, in := range train {
		u := m.index(m.users, &m.userItems, in.User)
		i := m.index(m.items, &m.itemUsers, in.Item)
		if !seen[[2]int32{u, i}] {
			seen[[2]int32{u, i}] = true
			m.userItems[u] = append(m.userItems[u], i)
			m.itemUsers[i] = append(m.itemUsers[i], u)
		}
	}
	for _, l := range m.userItems {
		slices.Sort(l)
	}
	return m
}

// index returns the number of id, adding it (and an empty list) when new.
func (m *interactions) index(ids map[string]int32, lists *[][]int32, id string) int32 {
	if n, ok := ids[id]; ok {
		return n
	}
	n := int32(len(*lists))
	ids[id] = n
	*lists = append(*lists, nil)
	return n
}

// profile returns the user's training items, or, for a user absent from the
// training data, the known items of the episode's history; and the user's
// number (-1 when absent).
func (m *interactions) profile(ep *prompt.Episode) ([]int32, int32) {
	if u, ok := m.users[ep.UserID]; ok {
		return m.userItems[u], u
	}
	var p []int32
	for _, h := range ep.History {
		if i, ok := m.items[h.ItemID]; ok && !slices.Contains(p, i) {
			p = append(p, i)
		}
	}
	return p, -1
}

// NewItemKNN returns the ranker "item-knn": item-based collaborative
// filtering on the binary matrix of the training interactions. Candidate i
// scores the summed cosine similarity to the items j of the user's
// profile P (training items, or the history's items for a user absent from
// the training data):
//
//	score(i) = Σ_{j ∈ P} |U_i ∩ U_j| / sqrt(|U_i| |U_j|)
//
// with U_x the users who met item x. Every item of the profile counts (no
// neighbourhood cut). An item absent from the training data scores 0.
// Cost per episode O(Σ_{j∈P} |U_j| + Σ_i |U_i|), whatever the number of
// users: the scratch vector of one entry per user is pooled and only its
// touched entries are cleared. Safe for concurrent use.
func NewItemKNN(train []dataset.Interaction, seed int64) Ranker {
	return newItemKNN(newInteractions(train), seed)
}

func newItemKNN(m *interactions, seed int64) Ranker {
	return &scorer{name: "item-knn", seed: seed, score: func(_ context.Context, ep *prompt.Episode, dst []float64) error {
		p, _ := m.profile(ep)
		// w[v] = Σ_{j ∈ P, v ∈ U_j} 1/sqrt(|U_j|), so that
		// score(i) = Σ_{v ∈ U_i} w[v] / sqrt(|U_i|).
		w, work := m.vector(), 0
		for _, j := range p {
			work += len(m.itemUsers[j])
			inv := 1 / math.Sqrt(float64(len(m.itemUsers[j])))
			for _, v := range m.itemUsers[j] {
				w[v] += inv
			}
		}
		for c, cand := range ep.Candidates {
			dst[c] = 0
			if i, ok := m.items[cand.ItemID]; ok {
				var s float64
				for _, v := range m.itemUsers[i] {
					s += w[v]
				}
				dst[c] = s / math.Sqrt(float64(len(m.itemUsers[i])))
			}
		}
		m.clearUsers(w, p, work)
		m.release(w)
		return nil
	}}
}

// NewUserKNN returns the ranker "user-knn": user-based collaborative
// filtering on the binary matrix of the training interactions. With P the
// user's profile (as in NewItemKNN) and I_v the items of user v,
//
//	sim(u, v) = |P ∩ I_v| / sqrt(|P| |I_v|)
//
// over every other user v; N is the k users of highest similarity (ties
// to the lower user number; k <= 0 means all users), and
//
//	score(i) = Σ_{v ∈ N, i ∈ I_v} sim(u, v).
//
// An item nobody in N met scores 0. Cost per episode O(Σ_{j∈P} |U_j| +
// V log V + Σ_i |U_i|) for the V users who share an item with the
// profile, whatever the number of users (see NewItemKNN). Safe for
// concurrent use.
func NewUserKNN(train []dataset.Interaction, k int, seed int64) Ranker {
	return newUserKNN(newInteractions(train), k, seed)
}

func newUserKNN(m *interactions, k int, seed int64) Ranker {
	return &scorer{name: "user-knn", seed: seed, score: func(_ context.Context, ep *prompt.Episode, dst []float64) error {
		sim, near := m.neighbours(ep, k)
		for c, cand := range ep.Candidates {
			dst[c] = 0
			if i, ok := m.items[cand.ItemID]; ok {
				for _, v := range m.itemUsers[i] {
					dst[c] += sim[v]
				}
			}
		}
		for _, v := range near {
			sim[v] = 0
		}
		m.release(sim)
		return nil
	}}
}

// neighbours returns, for every user number, the cosine similarity to the
// episode's user when that user is among its k nearest, else 0, in a
// pooled vector, and the users who share an item with the profile (the
// only entries that may be non-zero): the caller zeroes those and releases
// the vector. The cost is O(work) for the work (item, user) entries of the
// profile's items, whatever the number of users: past an eighth of the
// users it scans them all in order (cheaper, and the list comes sorted),
// else it visits only the co-occurring ones.
func (m *interactions) neighbours(ep *prompt.Episode, k int) ([]float64, []int32) {
	p, self := m.profile(ep)
	co, work := m.vector(), 0
	for _, j := range p {
		work += len(m.itemUsers[j])
		for _, v := range m.itemUsers[j] {
			co[v]++
		}
	}
	sim := func(v int32) float64 {
		return co[v] / math.Sqrt(float64(len(p))*float64(len(m.userItems[v])))
	}
	var near []int32
	if 8*work >= len(co) {
		for v, n := range co {
			if n > 0 && int32(v) != self {
				co[v] = sim(int32(v))
				near = append(near, int32(v))
			}
		}
	} else {
		// Visit each co-occurring user once: a count (> 0) becomes its
		// similarity, stored negated to mark it done.
		for _, j := range p {
			for _, v := range m.itemUsers[j] {
				if co[v] > 0 && v != self {
					co[v] = -sim(v)
					near = append(near, v)
				}
			}
		}
		for _, v := range near {
			co[v] = -co[v]
		}
	}
	if self >= 0 {
		co[self] = 0 // the user is no neighbour of their own
	}
	if k > 0 && len(near) > k {
		slices.SortFunc(near, func(a, b int32) int {
			return cmp.Or(cmp.Compare(co[b], co[a]), cmp.Compare(a, b))
		})
		for _, v := range near[k:] {
			co[v] = 0
		}
	}
	return co, near
}
