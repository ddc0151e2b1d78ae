// Package shard splits a job over machines and puts the pieces back
// together: a stable hash of the episode id assigns every episode to one
// of n shards (Spec), and MergeRollouts joins the shards' rollouts files
// into the file one machine would have written, byte for byte.
package shard

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Spec is shard K of N: the episodes whose id hashes to K modulo N. The
// zero value (N = 0) is the whole job, every episode.
type Spec struct {
	// K is the shard's index, 0 <= K < N (Kubernetes' JOB_COMPLETION_INDEX,
	// Slurm's SLURM_ARRAY_TASK_ID with --array=0-(N-1)).
	K int
	// N is the number of shards; 0 means no sharding.
	N int
}

// Parse reads "k/n" with 0 <= k < n; "" is the zero Spec.
func Parse(s string) (Spec, error) {
	if s == "" {
		return Spec{}, nil
	}
	ks, ns, ok := strings.Cut(s, "/")
	k, kerr := strconv.Atoi(ks)
	n, nerr := strconv.Atoi(ns)
	if !ok || kerr != nil || nerr != nil || n < 1 || k < 0 || k >= n {
		return Spec{}, fmt.Errorf("shard: %q: want k/n with 0 <= k < n", s)
	}
	return Spec{K: k, N: n}, nil
}

// String returns "k/n", or "" for the whole job.
func (s Spec) String() string {
	if s.N == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.K, s.N)
}

// Of returns the shard of an episode id among n: FNV-1a (64 bits) of the
// id modulo n. It depends on the id alone, never on order or on the other
// episodes, so every machine agrees.
func Of(id string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(id)) // hash.Hash.Write never returns an error
	return int(h.Sum64() % uint64(n))
}

// Has reports whether the episode id belongs to the shard; every id
// belongs to the zero Spec.
func (s Spec) Has(id string) bool {
	return s.N == 0 || Of(id, s.N) == s.K
}

// Filter returns the items of xs whose id belongs to the shard, in order;
// xs itself for the zero Spec.
func Filter[T any](s Spec, xs []T, id func(*T) string) []T {
	if s.N == 0 {
		return xs
	}
	var out []T
	for i := range xs {
		if s.Has(id(&xs[i])) {
			out = append(out, xs[i])
		}
	}
	return out
}
