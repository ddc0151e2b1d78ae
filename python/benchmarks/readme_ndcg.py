"""Times the README's pure-Python ndcg_reward (the narrower parser the
trl-grpo and verl exports used to rely on) on the Go benchmark's batch, for
the ratio against `flexrec serve` (serve/bench_test.go, BenchmarkScore256).

    FLEXREC_BENCH_DUMP=/tmp/batch.json go test ./serve -run XXX -bench Score256 -benchtime 3s -cpu 1
    python3 python/benchmarks/readme_ndcg.py /tmp/batch.json

Prints completions/s on one core, and how many completions its reward
differs from flexrec's on (when a running server is given as
FLEXREC_REWARD_URL or a binary as FLEXREC_BIN).
"""

import json
import math
import os
import re
import sys
import time


def ndcg_reward(completions, gains, k, **kwargs):
    """FlexRec's list reward: NDCG of the last line's ranking under the row's gains."""
    rewards = []
    for completion, g, cut in zip(completions, gains, k):
        text = completion[0]["content"] if isinstance(completion, list) else completion
        lines = [l for l in text.splitlines() if l.strip()]
        n, ranking = len(g), []
        for m in re.findall(r"\[([0-9]+)\]", lines[-1] if lines else ""):
            if 1 <= int(m) <= n and int(m) - 1 not in ranking:
                ranking.append(int(m) - 1)
        ranking += [i for i in range(n) if i not in ranking]  # prompt-order repair
        cut = cut if 0 < cut <= n else n
        dcg = sum(g[i] / math.log2(p + 2) for p, i in enumerate(ranking[:cut]))
        idcg = sum(x / math.log2(p + 2) for p, x in enumerate(sorted(g, reverse=True)[:cut]))
        rewards.append(dcg / idcg if idcg > 0 else 0.0)
    return rewards


def main(path):
    with open(path) as f:
        items = json.load(f)["items"]
    comps = [it["completion"] for it in items]
    gains = [it["ground_truth"]["gains"] for it in items]
    ks = [it["ground_truth"].get("k", 0) for it in items]
    n, start, cpu0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < 3.0:
        ndcg_reward(comps, gains, ks)
        n += len(comps)
    rate = n / (time.perf_counter() - start)
    cpu_rate = n / (time.process_time() - cpu0)
    print(f"README ndcg_reward (pure Python {sys.version.split()[0]}): {rate:,.0f} completions/s, "
          f"{cpu_rate:,.0f} completions/cpu-s on one core", flush=True)
    if os.environ.get("FLEXREC_REWARD_URL") or os.environ.get("FLEXREC_BIN"):
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
        from flexrec.reward import score

        ours = [r["list_reward"] for r in score(items)]
        old = ndcg_reward(comps, gains, ks)
        diff = sum(abs(a - b) > 1e-12 for a, b in zip(ours, old))
        print(f"differs from flexrec serve on {diff} of {len(items)} completions")


if __name__ == "__main__":
    main(sys.argv[1])
