"""Parity: on every rollout of a `flexrec run` this test produces, the Python
reward functions return the record's list_reward (|diff| < 1e-12).

Two runs: the built-in policy (always), and the project's test Ollama model
when FLEXREC_OLLAMA_HOST is set (scripts/ollama-test-server.sh starts it);
its answers carry duplicates, truncations and stray text.
"""

from __future__ import annotations

import importlib.util
import json
import os
import unittest

from tests import support

import flexrec.reward as fr

TOLERANCE = 1e-12


def setUpModule():
    support.use_binary()


records = support.records


def ground_truth(rec: dict) -> dict:
    """The record's gains in its own prompt's short-id order, as the
    trl-grpo and verl exports write them for their rollout."""
    order = rec["order"]
    variances = rec.get("candidate_variances") or [0.0] * len(order)
    return {
        "gains": [rec["candidate_gains"][c] for c in order],
        "variances": [variances[c] for c in order],
        "k": rec["cutoff"],
    }


class Parity:
    """Mixin: run() makes a run folder; the tests check every rollout."""

    counts: dict = {}

    @classmethod
    def setUpClass(cls):
        cls.out = cls.run_folder()
        cls.recs = records(os.path.join(cls.out, "rollouts.jsonl"))
        if not cls.recs:
            raise AssertionError(f"{cls.out}: no rollouts")
        parses = [r["parse"] for r in cls.recs]
        Parity.counts[f"{cls.label} answers"] = {
            "rollouts": len(parses),
            "invalid": sum(not p["valid"] for p in parses),
            "duplicates": sum(bool(p["duplicates"]) for p in parses),
            "unknown": sum(bool(p["unknown"]) for p in parses),
            "truncated": sum(p["truncated"] for p in parses),
            "not_format_ok": sum(not p["format_ok"] for p in parses),
        }

    def check(self, name: str, got: list[float]):
        bad = [(r["episode_id"], r["rollout"], r["list_reward"], g) for r, g in zip(self.recs, got)
               if abs(r["list_reward"] - g) >= TOLERANCE]
        self.assertEqual(len(self.recs), len(got))
        self.assertEqual([], bad[:5], f"{name}: {len(bad)} of {len(got)} rollouts differ from list_reward")
        Parity.counts[f"{self.label} {name}"] = len(got)

    def test_ndcg_reward(self):
        gts = [ground_truth(r) for r in self.recs]
        got = fr.ndcg_reward(
            completions=[[{"role": "assistant", "content": r["completion"]}] for r in self.recs],
            gains=[g["gains"] for g in gts], k=[g["k"] for g in gts], variances=[g["variances"] for g in gts],
            trainer_state=None,
        )
        self.check("ndcg_reward", got)

    def test_compute_score(self):
        gts = [json.dumps(ground_truth(r)) for r in self.recs]
        sols = [r["completion"] for r in self.recs]
        self.check("compute_score_batch", fr.compute_score_batch(["flexrec"] * len(sols), sols, gts, [None] * len(sols)))
        one = [fr.compute_score("flexrec", s, g) for s, g in list(zip(sols, gts))[:50]]
        self.assertEqual([r["list_reward"] for r in self.recs[:50]], one, "compute_score, one at a time")

    def test_exported_reward_file(self):
        """The verl export's standalone flexrec_reward.py, loaded as verl
        loads custom_reward_function.path, scores the exported rows'
        rollouts (each episode's first) as their records."""
        path = os.path.join(self.out, "exports", "verl", "flexrec_reward.py")
        if not os.path.exists(path):
            self.skipTest(f"SKIPPED: {path} not written by this flexrec")
        spec = importlib.util.spec_from_file_location("custom_module", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        grpo = records(os.path.join(self.out, "exports", "trl-grpo", "grpo.jsonl"))
        firsts = {r["episode_id"]: r for r in self.recs if r["rollout"] == 0}
        want = [firsts[row["episode_id"]]["list_reward"] for row in grpo]
        sols = [firsts[row["episode_id"]]["completion"] for row in grpo]
        gts = [json.dumps({"gains": row["gains"], "variances": row["variances"], "k": row["k"]}) for row in grpo]
        got = mod.compute_score_batch(["flexrec"] * len(sols), sols, gts)
        self.assertEqual(len(firsts), len(grpo))
        self.assertTrue(all(abs(w - g) < TOLERANCE for w, g in zip(want, got)), "exported flexrec_reward.py")
        trl = mod.ndcg_reward([[{"role": "assistant", "content": s}] for s in sols],
                              [row["gains"] for row in grpo], [row["k"] for row in grpo])
        self.assertTrue(all(abs(w - g) < TOLERANCE for w, g in zip(want, trl)), "exported ndcg_reward")
        Parity.counts[f"{self.label} exported flexrec_reward.py"] = len(got)


class BuiltinParity(Parity, unittest.TestCase):
    label = "builtin"

    @classmethod
    def run_folder(cls) -> str:
        out = os.path.join(support.tmpdir("builtin"), "run")
        support.run("run", "--out", out, "--no-eval", "--exports", "native,trl-grpo,verl")
        return out


class OllamaParity(Parity, unittest.TestCase):
    label = "ollama"

    @classmethod
    def run_folder(cls) -> str:
        return support.ollama_run("ollama", "the Ollama parity test", "{samples: 4, max_tokens: 48}", "native, trl-grpo, verl")


def tearDownModule():
    if Parity.counts:
        print("\nparity (rollouts with |python - list_reward| < 1e-12):", json.dumps(Parity.counts), flush=True)


if __name__ == "__main__":
    unittest.main()
