"""flexrec.verl: the `flexrec` reward manager and advantage estimator.

* Parity: on a `flexrec run` against the project's test Ollama model
  (FLEXREC_OLLAMA_HOST; skipped without it) and on the built-in policy, the
  token advantages computed from each native-export record's item_rewards,
  list_reward, u, generated flags and item_spans equal its token_advantages
  to 1e-6, token by token: once through the pure functions (float64), once
  through verl's registry path (the stand-in compute_advantage, float32
  tensors), and once end to end (the reward manager scores the record's
  tokens with `flexrec serve`, the estimator reads what it wrote).
* The registered names and signatures match verl v0.7.0's source.

Real torch is used (Debian's python3-torch); without it the torch tests skip,
saying so. verl itself is not installed: tests/verl_standin/ is a minimal
stand-in of the few verl names flexrec.verl imports, each file naming the
verl file (at v0.7.0, f9c855f7cf04d603c9546bc01776c74806a879c1) it mirrors.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import unittest

from tests import support

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "verl_standin"))

try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False

NO_TORCH = ("SKIPPED: torch is not importable by this python3; install Debian's python3-torch "
            "(`apt-get install python3-torch`, as .ci/run does)")

# flexrec.verl imports verl (the stand-in) only when torch is there: the
# stand-in's abstract.py, like verl's, imports torch.
if HAVE_TORCH:
    import flexrec.verl as fv
else:
    _saved = sys.path.pop(0)
    import flexrec.verl as fv

TOLERANCE = 1e-6


def setUpModule():
    support.use_binary()


records = support.records


def token_spans(rec: dict) -> list:
    """The token range of each position, as rollout.tokenSpans gives rl
    (a token shared by two items goes to the earlier one); None for a
    repaired position."""
    spans = [None] * len(rec["permutation"])
    prev = 0
    for sp in rec["item_spans"]:
        first = max(sp["first_token"], prev)
        last = max(sp["last_token"], first)
        spans[sp["position"]] = [first, last]
        prev = last
    return spans


def carry(rec: dict, penalty: float = 0.0) -> dict:
    """What the reward manager writes for the estimator, from a record. The
    record's list reward is after the run's format penalty; the estimator
    takes it before (flexrec serve scores with --format-penalty 0)."""
    repaired = sum(not g for g in rec["generated"])
    raw = rec["list_reward"] + penalty * repaired / len(rec["generated"]) if penalty and repaired else rec["list_reward"]
    return {"list_reward": raw, "item_rewards": rec["item_rewards"], "u": rec["u"],
            "generated": rec["generated"], "spans": token_spans(rec), "tokens": len(rec["tokens"])}


def compared(recs: list[dict]) -> list[dict]:
    """Records whose token advantages the native export wrote, in whole
    groups: rl scores a group together, whether or not its tokens aligned."""
    return [r for r in recs if r.get("token_advantages")]


class Parity:
    """Mixin: run_folder() makes a run; the tests compare every rollout."""

    figures: dict = {}
    #: The run's rl switches (rollout: in its job), as algorithm.flexrec.*.
    opts: dict = {}

    @classmethod
    def setUpClass(cls):
        out = cls.run_folder()
        cls.recs = records(os.path.join(out, "exports", "native", "rollouts.jsonl"))
        if not cls.recs:
            raise AssertionError(f"{out}: no native records")
        cls.index = [r["episode_id"] for r in cls.recs]
        cls.rows = [carry(r, cls.opts.get("format_penalty", 0.0)) for r in cls.recs]
        cls.config = {"flexrec": dict(cls.opts)}

    def compare(self, name: str, got: list) -> None:
        n, worst, bad = 0, 0.0, []
        for rec, adv in zip(self.recs, got):
            want = rec["token_advantages"]
            if not want:
                continue
            self.assertEqual(len(want), len(adv[:len(want)]), f"{rec['episode_id']}#{rec['rollout']}: token count")
            for t, (w, g) in enumerate(zip(want, adv)):
                d = abs(w - float(g))
                worst = max(worst, d)
                n += 1
                if d > TOLERANCE:
                    bad.append((rec["episode_id"], rec["rollout"], t, w, float(g)))
        self.assertGreater(n, 0, "no tokens compared")
        self.assertEqual([], bad[:5], f"{name}: {len(bad)} of {n} tokens differ by more than {TOLERANCE}")
        Parity.figures[f"{self.label} {name}"] = {
            "rollouts": len(compared(self.recs)), "tokens": n, "max_abs_diff": worst,
            "repaired_positions": sum(not g for r in compared(self.recs) for g in r["generated"]),
            "duplicate_ids": sum(len(r["parse"]["duplicates"] or []) for r in compared(self.recs)),
        }

    def test_pure_functions(self):
        got = fv.token_advantages_for_rows(self.rows, self.index, self.config)
        self.compare("float64", got)
        # The item and sequence advantages too, position by position.
        groups = {}
        for i, r in enumerate(self.recs):
            groups.setdefault(r["episode_id"], []).append(i)
        for members in groups.values():
            rs = [self.recs[i] for i in members]
            ga = fv.group_advantages([self.rows[i]["list_reward"] for i in members], [r["item_rewards"] for r in rs],
                                     [r["u"] for r in rs], [r["generated"] for r in rs], self.config)
            for m, r in enumerate(rs):
                self.assertAlmostEqual(r["list_reward"], ga["rewards"][m], delta=1e-12)
                self.assertAlmostEqual(r["advantage"], ga["sequence"][m], delta=1e-12)
                self.assertAlmostEqual(r["c"], ga["scales"][m], delta=1e-12)
                for w, g in zip(r["item_advantages"], ga["items"][m]):
                    self.assertAlmostEqual(w, g, delta=1e-12)

    def test_switches_against_flexrec_reward(self):
        """rl's other switches, on this run's groups: `flexrec reward` (the Go
        rl package) scores each group, with synthetic gain variances so that
        u and c_i vary, under each switch set; the estimator, given the same
        item rewards, u and pre-penalty list rewards, writes the same token
        advantages (float64, 1e-9)."""
        import subprocess

        groups = {}
        for i, r in enumerate(self.recs):
            groups.setdefault(r["episode_id"], []).append(i)
        groups = [m for m in groups.values() if all(self.recs[i]["token_advantages"] for i in m)][:40]
        self.assertTrue(groups)
        lines = []
        for m in groups:
            rec0 = self.recs[m[0]]
            n = len(rec0["candidate_gains"])
            rollouts = []
            for i in m:
                r = self.recs[i]
                spans = [{"first": sp[0], "last": sp[1], "generated": True} if sp else {"generated": False}
                         for sp in token_spans(r)]
                rollouts.append({"permutation": r["ranking"], "repaired": [not g for g in r["generated"]],
                                 "spans": spans, "tokens": len(r["tokens"])})
            lines.append(json.dumps({"gains": rec0["candidate_gains"], "k": rec0["cutoff"],
                                     "variances": [0.02 * (c % 3) for c in range(n)], "rollouts": rollouts}))
        cases = [
            ({"normalize": "position", "format_penalty": 0.25, "other_tokens": "zero"},
             ["--normalize", "position", "--format-penalty", "0.25", "--other-tokens", "zero"]),
            ({}, []),
            ({"level": "sequence", "uncertainty": False}, ["--level", "sequence", "--uncertainty", "none"]),
            ({"scaling": "clamp", "clamp_min": 0.9, "clamp_max": 1.1, "eps": 0.01, "delta": 0.001},
             ["--scaling", "clamp", "--clamp-min", "0.9", "--clamp-max", "1.1", "--eps", "0.01", "--delta", "0.001"]),
        ]
        n_tok, worst = 0, 0.0
        for opts, flags in cases:
            p = subprocess.run([support.binary(), "reward", *flags], input="\n".join(lines) + "\n",
                               capture_output=True, text=True)
            self.assertEqual(0, p.returncode, p.stderr[-2000:])
            outs = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
            self.assertEqual(len(groups), len(outs))
            fp = opts.get("format_penalty", 0.0)
            for m, out in zip(groups, outs):
                rows = []
                for j, i in enumerate(m):
                    gen = self.recs[i]["generated"]
                    rep = sum(not g for g in gen)
                    raw = out["rewards"][j] + fp * rep / len(gen) if fp and rep else out["rewards"][j]
                    rows.append({"list_reward": raw, "item_rewards": out["item_rewards"][j], "u": out["u"][j],
                                 "generated": gen, "spans": token_spans(self.recs[i]),
                                 "tokens": len(self.recs[i]["tokens"])})
                got = fv.token_advantages_for_rows(rows, [0] * len(rows), {"flexrec": opts})
                for want, adv in zip(out["token_advantages"], got):
                    self.assertEqual(len(want), len(adv))
                    for w, g in zip(want, adv):
                        worst = max(worst, abs(w - g))
                        n_tok += 1
                    self.assertTrue(all(abs(w - g) <= 1e-9 for w, g in zip(want, adv)), f"switches {opts}")
        Parity.figures[f"{self.label} switches vs flexrec reward"] = {
            "groups": len(groups), "cases": len(cases), "tokens": n_tok, "max_abs_diff": worst}

    @unittest.skipUnless(HAVE_TORCH, NO_TORCH)
    def test_verl_estimator(self):
        """Through verl's compute_advantage (stand-in of ray_trainer.py) with
        adv_estimator="flexrec", in float32 tensors."""
        import numpy as np
        import torch
        from verl.protocol import DataProto
        from verl.trainer.ppo import ray_trainer

        length = max(len(r["tokens"]) for r in self.recs) + 3
        mask = torch.zeros(len(self.recs), length)
        for i, r in enumerate(self.recs):
            mask[i, :len(r["tokens"])] = 1
        data = DataProto.from_dict(
            {"token_level_rewards": torch.zeros(len(self.recs), length), "response_mask": mask},
            {"uid": np.array(self.index, dtype=object),
             "flexrec": np.array([json.dumps(x) for x in self.rows], dtype=object)})
        # As RayPPOTrainer.fit calls it (ray_trainer.py:1531-1539 at the pin).
        data = ray_trainer.compute_advantage(data, adv_estimator="flexrec", gamma=1.0, lam=1.0, num_repeat=8,
                                             norm_adv_by_std_in_grpo=True, config=self.config)
        adv = data.batch["advantages"]
        self.assertEqual(torch.float32, adv.dtype)
        self.assertTrue(torch.equal(adv, data.batch["returns"]))
        self.assertEqual(0.0, float(adv[mask == 0].abs().sum()), "padding gets no advantage")
        self.compare("verl estimator float32", [row.tolist() for row in adv])

    @unittest.skipUnless(HAVE_TORCH, NO_TORCH)
    def test_end_to_end(self):
        """The reward manager scores each record's own tokens (a tokenizer
        whose vocabulary is the records' token texts) with `flexrec serve`;
        its token rewards are the item rewards on the id tokens, and the
        estimator on what it wrote gives the native token advantages."""
        import numpy as np
        import torch
        from verl.protocol import DataProto
        from verl.workers.reward_manager import get_reward_manager_cls

        recs = [r for r in self.recs if "".join(t["text"] for t in r["tokens"]) == r["completion"]]
        groups = {}
        for r in recs:
            groups.setdefault(r["episode_id"], []).append(r)
        recs = [r for g in groups.values() if len(g) == g[0]["group_size"] for r in g]
        self.assertTrue(recs, "no record whose tokens spell its completion")
        tok = ListTokenizer()
        ids = [[tok.id(t["text"]) for t in r["tokens"]] for r in recs]
        plen, length = 2, max(len(x) for x in ids) + 2
        responses = torch.full((len(recs), length), tok.pad, dtype=torch.long)
        attn = torch.zeros(len(recs), plen + length, dtype=torch.long)
        attn[:, :plen] = 1
        for i, x in enumerate(ids):
            responses[i, :len(x)] = torch.tensor(x, dtype=torch.long)
            attn[i, plen:plen + len(x)] = 1
        gts = [{"ground_truth": json.dumps(ground_truth(r))} for r in recs]
        data = DataProto.from_dict({"prompts": torch.zeros(len(recs), plen, dtype=torch.long),
                                    "responses": responses, "attention_mask": attn},
                                   {"reward_model": gts, "uid": [r["episode_id"] for r in recs],
                                    "data_source": ["flexrec"] * len(recs)})
        rm = get_reward_manager_cls("flexrec")(tok, num_examine=0, compute_score=None)
        out = rm(data, return_dict=True)
        reward, extra = out["reward_tensor"], out["reward_extra_info"]
        for i, r in enumerate(recs):
            self.assertAlmostEqual(carry(r, self.opts.get("format_penalty", 0.0))["list_reward"],
                                   extra["list_reward"][i], delta=1e-12)
            self.assertAlmostEqual(r["u"], extra["u"][i], delta=1e-12)
            self.assertEqual(r["parse"]["valid"], extra["valid"][i])
            want = [0.0] * len(r["tokens"])
            for p, s in enumerate(token_spans(r)):
                if s is not None:
                    for t in range(*s):
                        want[t] = r["item_rewards"][p]
            got = reward[i, :len(want)].tolist()
            self.assertTrue(all(abs(a - b) < 1e-6 for a, b in zip(want, got)),
                            f"{r['episode_id']}#{r['rollout']}: token rewards")
            self.assertEqual(token_spans(r), json.loads(extra["flexrec"][i])["spans"])
        # verl's ray_trainer does batch.non_tensor_batch.update({k: np.array(v)}).
        mask = attn[:, plen:].float()
        adv, _ = fv.compute_flexrec_advantage(reward, mask, index=np.array([r["episode_id"] for r in recs]),
                                              config=self.config, flexrec=np.array(extra["flexrec"]))
        saved = self.recs
        try:
            self.recs = recs
            self.compare("end to end", [row.tolist() for row in adv])
        finally:
            self.recs = saved


def ground_truth(rec: dict) -> dict:
    order = rec["order"]
    variances = rec.get("candidate_variances") or [0.0] * len(order)
    return {"gains": [rec["candidate_gains"][c] for c in order],
            "variances": [variances[c] for c in order], "k": rec["cutoff"]}


class ListTokenizer:
    """A tokenizer whose vocabulary grows with the texts it is given:
    decode joins the texts (as a byte-level BPE decodes whole tokens)."""

    def __init__(self):
        self.vocab: list[str] = [""]
        self.ids: dict[str, int] = {"": 0}
        self.pad = 0

    def id(self, text: str) -> int:
        if text not in self.ids:
            self.ids[text] = len(self.vocab)
            self.vocab.append(text)
        return self.ids[text]

    def decode(self, ids, skip_special_tokens=False):
        return "".join(self.vocab[int(i)] for i in ids)


class BuiltinVerlParity(Parity, unittest.TestCase):
    label = "builtin"

    @classmethod
    def run_folder(cls) -> str:
        out = os.path.join(support.tmpdir("verl-builtin"), "run")
        support.run("run", "--out", out, "--no-eval", "--exports", "native")
        return out


class OllamaVerlParity(Parity, unittest.TestCase):
    label = "ollama"
    rollout = "{samples: 8, max_tokens: 96}"

    @classmethod
    def run_folder(cls) -> str:
        return support.ollama_run("verl-ollama", "the Ollama verl parity test", cls.rollout, "native")


class Options(unittest.TestCase):
    def test_defaults_are_rl_default_config(self):
        # rl.DefaultConfig (rl/config.go): item level, pooled, propagated
        # uncertainty with mean-one scaling, eps 1e-3, delta 1e-4, sequence
        # advantage on other tokens, no format penalty.
        o = fv.options(None)
        self.assertEqual(("item", "pooled", True, "mean", 1e-3, 1e-4, "sequence", 0.0),
                         (o["level"], o["normalize"], o["uncertainty"], o["scaling"], o["eps"], o["delta"],
                          o["other_tokens"], o["format_penalty"]))

    def test_unknown_and_bad(self):
        with self.assertRaises(ValueError):
            fv.options({"flexrec": {"normalise": "pooled"}})
        with self.assertRaises(ValueError):
            fv.options({"flexrec": {"level": "token"}})

    def test_switches(self):
        rows = dict(list_rewards=[0.9, 0.5, 0.7], item_rewards=[[0.2, 0.1], [0.0, 0.3], [0.1, 0.1]],
                    u=[0.0, 0.01, 0.002], generated=[[True, True], [True, False], [True, True]])
        base = fv.group_advantages(**rows)
        self.assertEqual(0.0, base["items"][1][1], "repaired item gets nothing")
        self.assertAlmostEqual(1.0, sum(base["scales"]) / 3, delta=1e-12)
        off = fv.group_advantages(**rows, config={"flexrec": {"uncertainty": False}})
        self.assertEqual([1.0, 1.0, 1.0], off["scales"])
        seq = fv.group_advantages(**rows, config={"flexrec": {"level": "sequence"}})
        self.assertEqual([seq["sequence"][0]] * 2, seq["items"][0])
        pen = fv.group_advantages(**rows, config={"flexrec": {"format_penalty": 0.5}})
        self.assertAlmostEqual(0.25, pen["rewards"][1], delta=1e-15)
        pos = fv.group_advantages(**rows, config={"flexrec": {"normalize": "position"}})
        self.assertNotEqual(pos["items"], base["items"])

    def test_offsets_multibyte(self):
        class Bytes:
            def decode(self, ids, skip_special_tokens=False):
                return bytes(ids).decode("utf-8", errors="replace")
        text, off = fv.offsets_from_ids(Bytes(), list("[é] > [2]".encode()))
        self.assertEqual("[é] > [2]", text)
        self.assertEqual([[0, 1], [1, 1], [1, 3], [3, 4]], off[:4])
        self.assertEqual(len(text.encode()), off[-1][1])

    def test_offsets_sentencepiece_like(self):
        class SP:
            vocab = ["\u2581[1]", "\u2581>", "\u2581[2]", "</s>"]

            def decode(self, ids, skip_special_tokens=False):
                toks = [self.vocab[i] for i in ids if not (skip_special_tokens and i == 3)]
                return "".join(toks).replace("\u2581", " ").lstrip(" ")
        text, off = fv.offsets_from_ids(SP(), [0, 1, 2, 3] * 3)
        self.assertEqual(SP().decode([0, 1, 2, 3] * 3, True), text)
        self.assertEqual(["[1]", " >", " [2]", "", " [1]"], [text.encode()[a:b].decode() for a, b in off][:5])
        self.assertEqual(len(text.encode()), off[-1][1])


@unittest.skipUnless(HAVE_TORCH, NO_TORCH)
class PinnedSignatures(unittest.TestCase):
    """Registered names and signatures against verl v0.7.0's source
    (f9c855f7cf04d603c9546bc01776c74806a879c1), transcribed below."""

    # verl/trainer/ppo/core_algos.py:264-272
    GRPO = ["token_level_rewards", "response_mask", "index", "epsilon", "norm_adv_by_std_in_grpo", "config"]
    # verl/trainer/ppo/ray_trainer.py:250-258: the keywords compute_advantage passes a registered estimator
    PASSED = {"token_level_rewards", "response_mask", "config", "index", "reward_baselines"}
    # verl/workers/reward_manager/abstract.py:29-45
    INIT = ["self", "tokenizer", "num_examine", "compute_score", "reward_fn_key", "kwargs"]
    CALL = ["self", "data", "return_dict"]

    def test_registered(self):
        from verl.trainer.ppo.core_algos import get_adv_estimator_fn
        from verl.workers.reward_manager import get_reward_manager_cls

        self.assertIs(fv.FlexrecRewardManager, get_reward_manager_cls("flexrec"))
        self.assertIs(fv.compute_flexrec_advantage, get_adv_estimator_fn("flexrec"))
        from verl.workers.reward_manager.abstract import AbstractRewardManager
        self.assertTrue(issubclass(fv.FlexrecRewardManager, AbstractRewardManager))

    def test_estimator_signature(self):
        from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

        self.assertEqual(self.GRPO, list(inspect.signature(compute_grpo_outcome_advantage).parameters))
        ours = inspect.signature(fv.compute_flexrec_advantage).parameters
        self.assertEqual(self.GRPO, list(ours)[:len(self.GRPO)])
        self.assertEqual(1e-6, ours["epsilon"].default)
        self.assertTrue(any(p.kind is inspect.Parameter.VAR_KEYWORD for p in ours.values()), "takes reward_baselines")
        self.assertTrue(self.PASSED <= set(ours) | {"reward_baselines"})

    def test_reward_manager_signature(self):
        from verl.workers.reward_manager.abstract import AbstractRewardManager

        self.assertEqual(self.INIT, list(inspect.signature(AbstractRewardManager.__init__).parameters))
        self.assertEqual(self.CALL, list(inspect.signature(AbstractRewardManager.__call__).parameters))
        self.assertEqual(self.INIT, list(inspect.signature(fv.FlexrecRewardManager.__init__).parameters))
        self.assertEqual(self.CALL, list(inspect.signature(fv.FlexrecRewardManager.__call__).parameters))

    def test_hook_leaves_other_estimators(self):
        """install()'s compute_advantage hands every other estimator to
        verl's own code unchanged."""
        import numpy as np
        import torch
        from verl.protocol import DataProto
        from verl.trainer.ppo import core_algos, ray_trainer

        self.assertTrue(getattr(ray_trainer.compute_advantage, "_flexrec", False))
        rewards = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.5], [0.2, 0.0, 0.0]])
        mask = torch.ones(3, 3)
        uid = np.array(["a", "a", "b"], dtype=object)
        data = DataProto.from_dict({"token_level_rewards": rewards.clone(), "response_mask": mask}, {"uid": uid})
        data = ray_trainer.compute_advantage(data, adv_estimator="grpo", config=None)
        want, _ = core_algos.compute_grpo_outcome_advantage(rewards.clone(), mask, uid)
        self.assertTrue(torch.equal(want, data.batch["advantages"]))

    def test_pin_named(self):
        self.assertEqual(("v0.7.0", "f9c855f7cf04d603c9546bc01776c74806a879c1"), (fv.VERL_TAG, fv.VERL_COMMIT))


def tearDownModule():
    if Parity.figures:
        print("\nverl parity (token advantages vs the native export, tolerance 1e-6):",
              json.dumps(Parity.figures), flush=True)


if __name__ == "__main__":
    unittest.main()
