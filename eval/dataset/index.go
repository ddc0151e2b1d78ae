package dataset

import (
	"cmp"
	"math"
	"slices"
	"sort"
)

// index is the integer view of a Dataset that Build works on. It is built
// once per Build call and only read afterwards.
type index struct {
	ds        *Dataset
	itemOf    []int32   // interaction -> item position in ds.Items
	users     []string  // user ids in id order (compareIDs)
	byUser    [][]int32 // per user: interaction positions by (time, file order)
	itemTimes [][]int64 // per item: times of all its interactions, ascending
	active    []int32   // items with at least one interaction, ascending
	cats      [][]int32 // per item: category ids
	numCats   int
}

func newIndex(ds *Dataset) *index {
	ix := &index{ds: ds, itemOf: make([]int32, len(ds.Interactions))}
	userPos := map[string]int32{}
	for k, in := range ds.Interactions {
		ix.itemOf[k] = int32(ds.ItemIndex[in.Item])
		u, ok := userPos[in.User]
		if !ok {
			u = int32(len(ix.users))
			userPos[in.User] = u
			ix.users = append(ix.users, in.User)
			ix.byUser = append(ix.byUser, nil)
		}
		ix.byUser[u] = append(ix.byUser[u], int32(k))
	}
	ix.sortUsers()
	ix.indexItems()
	return ix
}

// sortUsers orders users by id and each user's interactions by time, file
// order breaking ties (a total order, so an unstable sort is exact).
func (ix *index) sortUsers() {
	order := make([]int, len(ix.users))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return compareIDs(ix.users[a], ix.users[b]) })
	users, lists := make([]string, len(order)), make([][]int32, len(order))
	var keys []uint64
	for i, o := range order {
		users[i], lists[i] = ix.users[o], ix.byUser[o]
		keys = ix.sortByTime(lists[i], keys[:0])
	}
	ix.users, ix.byUser = users, lists
}

// sortByTime sorts the interaction positions of list by (time, position).
// Times in [0, 2^32) (all the loaders accept) are packed with the position
// into one uint64 key and sorted without a comparison function: three times
// faster on ml-latest-small. keys is scratch space, returned for reuse.
func (ix *index) sortByTime(list []int32, keys []uint64) []uint64 {
	for _, k := range list {
		t := ix.ds.Interactions[k].Time
		if t < 0 || t > math.MaxUint32 {
			slices.SortFunc(list, func(a, b int32) int {
				return cmp.Or(cmp.Compare(ix.ds.Interactions[a].Time, ix.ds.Interactions[b].Time), cmp.Compare(a, b))
			})
			return keys
		}
		keys = append(keys, uint64(t)<<32|uint64(uint32(k)))
	}
	slices.Sort(keys)
	for i, key := range keys {
		list[i] = int32(uint32(key))
	}
	return keys
}

// indexItems fills itemTimes, active and the category ids.
func (ix *index) indexItems() {
	n := len(ix.ds.Items)
	ix.itemTimes = make([][]int64, n)
	for k, it := range ix.itemOf {
		ix.itemTimes[it] = append(ix.itemTimes[it], ix.ds.Interactions[k].Time)
	}
	catID := map[string]int32{}
	ix.cats = make([][]int32, n)
	for i := range ix.itemTimes {
		slices.Sort(ix.itemTimes[i])
		if len(ix.itemTimes[i]) > 0 {
			ix.active = append(ix.active, int32(i))
		}
		for _, c := range ix.ds.Items[i].Categories {
			id, ok := catID[c]
			if !ok {
				id = int32(len(catID))
				catID[c] = id
			}
			ix.cats[i] = append(ix.cats[i], id)
		}
	}
	ix.numCats = len(catID)
}

// countBefore is the number of interactions with item before time t.
func (ix *index) countBefore(item int32, t int64) int {
	ts := ix.itemTimes[item]
	return sort.Search(len(ts), func(i int) bool { return ts[i] >= t })
}

// countIn is the number of interactions with item in [from, to).
func (ix *index) countIn(item int32, from, to int64) int {
	return ix.countBefore(item, to) - ix.countBefore(item, from)
}
