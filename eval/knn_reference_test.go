package eval

// The KNN baselines as they were before their per-ranking scratch was
// pooled and cleared sparsely (a dense vector of one entry per user,
// allocated and scanned for every ranking). Kept as the oracle that the
// linear-time rankers give identical scores.

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/flexrec/flexrec/eval/dataset"
	"github.com/flexrec/flexrec/prompt"
)

// refInteractions is the binary user–item matrix of the training refInteractions
// in both compressed layouts. Users and items are numbered in order of first
// appearance; a pair seen twice counts once. It is immutable once built.
type refInteractions struct {
	users, items map[string]int32
	userItems    [][]int32 // per user, the items met, ascending
	itemUsers    [][]int32 // per item, the users who met it, ascending
}

// newRefInteractions indexes the training refInteractions.
func newRefInteractions(train []dataset.Interaction) *refInteractions {
	m := &refInteractions{users: map[string]int32{}, items: map[string]int32{}}
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
func (m *refInteractions) index(ids map[string]int32, lists *[][]int32, id string) int32 {
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
func (m *refInteractions) profile(ep *prompt.Episode) ([]int32, int32) {
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

// refItemKNN returns the ranker "item-knn": item-based collaborative
// filtering on the binary matrix of the training refInteractions. Candidate i
// scores the summed cosine similarity to the items j of the user's
// profile P (training items, or the history's items for a user absent from
// the training data):
//
//	score(i) = Σ_{j ∈ P} |U_i ∩ U_j| / sqrt(|U_i| |U_j|)
//
// with U_x the users who met item x. Every item of the profile counts (no
// neighbourhood cut). An item absent from the training data scores 0.
// Cost per episode O(Σ_{j∈P} |U_j| + Σ_i |U_i|) with one scratch vector of
// one entry per user.
func refItemKNN(m *refInteractions, seed int64) Ranker {
	return &scorer{name: "item-knn-reference", seed: seed, score: func(_ context.Context, ep *prompt.Episode, dst []float64) error {
		p, _ := m.profile(ep)
		// w[v] = Σ_{j ∈ P, v ∈ U_j} 1/sqrt(|U_j|), so that
		// score(i) = Σ_{v ∈ U_i} w[v] / sqrt(|U_i|).
		w := make([]float64, len(m.userItems))
		for _, j := range p {
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
		return nil
	}}
}

// refUserKNN returns the ranker "user-knn": user-based collaborative
// filtering on the binary matrix of the training refInteractions. With P the
// user's profile (as in refItemKNN) and I_v the items of user v,
//
//	sim(u, v) = |P ∩ I_v| / sqrt(|P| |I_v|)
//
// over every other user v; N is the k users of highest similarity (ties
// to the lower user number; k <= 0 means all users), and
//
//	score(i) = Σ_{v ∈ N, i ∈ I_v} sim(u, v).
//
// An item nobody in N met scores 0. Cost per episode O(Σ_{j∈P} |U_j| +
// V log V + Σ_i |U_i|) for V users.
func refUserKNN(m *refInteractions, k int, seed int64) Ranker {
	return &scorer{name: "user-knn-reference", seed: seed, score: func(_ context.Context, ep *prompt.Episode, dst []float64) error {
		sim := m.neighbours(ep, k)
		for c, cand := range ep.Candidates {
			dst[c] = 0
			if i, ok := m.items[cand.ItemID]; ok {
				for _, v := range m.itemUsers[i] {
					dst[c] += sim[v]
				}
			}
		}
		return nil
	}}
}

// neighbours returns, for every user number, the cosine similarity to the
// episode's user when that user is among its k nearest, else 0.
func (m *refInteractions) neighbours(ep *prompt.Episode, k int) []float64 {
	p, self := m.profile(ep)
	co := make([]float64, len(m.userItems))
	for _, j := range p {
		for _, v := range m.itemUsers[j] {
			co[v]++
		}
	}
	var near []int32
	for v, n := range co {
		if n > 0 && int32(v) != self {
			co[v] = n / math.Sqrt(float64(len(p))*float64(len(m.userItems[v])))
			near = append(near, int32(v))
		} else {
			co[v] = 0
		}
	}
	if k > 0 && len(near) > k {
		slices.SortFunc(near, func(a, b int32) int {
			return cmp.Or(cmp.Compare(co[b], co[a]), cmp.Compare(a, b))
		})
		for _, v := range near[k:] {
			co[v] = 0
		}
	}
	return co
}
