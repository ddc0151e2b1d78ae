"""flexrec.reward against the real `flexrec serve`, `flexrec parse` and
`flexrec reward`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unittest

from tests import support

import flexrec.reward as fr

# Answers as LLMs write them: the forms where the README's old Python
# ndcg_reward disagreed with flexrec (code fence, numbered list, full-width
# brackets, JSON), and repairs (duplicates, unknown ids, a cut).
ANSWERS = [
    "[3] > [1] > [5] > [4] > [6] > [2]",
    "The user likes thrillers.\n\nFinal ranking: [5] > [3] > [1]\n```\n",
    "```\n[2] > [6] > [1] > [3] > [4] > [5]\n```\nThis puts the dramas first.",
    "1. [2] Heat\n2. [6] Up\n3. [1] Alien\n4. [3]\n5. [4]\n6. [5]",
    "［２］＞［１］＞［５］",
    '```json\n["3", "1", "2"]\n```',
    "[3] > [9] > [3] > [1] > [",
    "no ranking at all",
]
GAINS = [3, 0, 4.5, 1, 2, 0.5]
VARIANCES = [0, 0.2, 0, 1.5, 0, 0.1]


def setUpModule():
    os.environ["FLEXREC_BIN"] = support.binary()
    os.environ.pop("FLEXREC_REWARD_URL", None)


def cli_reward(answer: str, gains, k: int) -> float:
    """`flexrec parse --n N` piped into `flexrec reward`: the reference."""
    n = str(len(gains))
    p = subprocess.run([support.binary(), "parse", "--n", n], input=answer, capture_output=True, text=True, check=True)
    perm = [int(i) - 1 for i in json.loads(p.stdout)["permutation"]]
    line = json.dumps({"gains": gains, "permutation": perm, "k": k})
    r = subprocess.run([support.binary(), "reward"], input=line, capture_output=True, text=True, check=True)
    return json.loads(r.stdout)["list_reward"]


class RewardFunctions(unittest.TestCase):
    def test_ndcg_reward_trl_signature(self):
        for k in (0, 3):
            completions = [[{"role": "assistant", "content": a}] for a in ANSWERS]
            got = fr.ndcg_reward(
                prompts=[[{"role": "user", "content": "..."}]] * len(ANSWERS),
                completions=completions,
                completion_ids=[[1, 2]] * len(ANSWERS),
                gains=[GAINS] * len(ANSWERS),
                variances=[VARIANCES] * len(ANSWERS),
                k=[k] * len(ANSWERS),
                episode_id=["e"] * len(ANSWERS),
                trainer_state=None,
                log_extra=None,
                log_metric=None,
            )
            want = [cli_reward(a, GAINS, k) for a in ANSWERS]
            self.assertEqual(want, got, f"ndcg_reward equals flexrec parse + flexrec reward (k={k})")

    def test_plain_string_completions(self):
        got = fr.ndcg_reward(ANSWERS, [GAINS] * len(ANSWERS), [None] * len(ANSWERS))
        self.assertEqual([cli_reward(a, GAINS, 0) for a in ANSWERS], got)

    def test_compute_score_verl_signature(self):
        gt = json.dumps({"gains": GAINS, "variances": VARIANCES, "k": 0})
        for a in ANSWERS:
            want = cli_reward(a, GAINS, 0)
            self.assertEqual(want, fr.compute_score("flexrec", a, gt), "JSON text ground truth")
            self.assertEqual(want, fr.compute_score("flexrec", a, json.loads(gt), extra_info={"index": 0}), "dict")
        got = fr.compute_score_batch(
            data_sources=["flexrec"] * len(ANSWERS), solution_strs=ANSWERS,
            ground_truths=[gt] * len(ANSWERS), extra_infos=[{}] * len(ANSWERS),
        )
        self.assertEqual([cli_reward(a, GAINS, 0) for a in ANSWERS], got, "compute_score_batch")

    def test_score_full_results(self):
        res = fr.score([{"completion": "[2] > [1]", "ground_truth": {"gains": [1, 3]}, "offsets": [[0, 3], [3, 6], [6, 9]]}])
        self.assertEqual(1.0, res[0]["list_reward"])
        self.assertEqual(["2", "1"], res[0]["permutation"])
        self.assertEqual(3, len(res[0]["token_rewards"]))

    def test_bad_input_is_an_error(self):
        with self.assertRaises(fr.FlexrecError) as cm:
            fr.compute_score("flexrec", "[1]", {"gains": [1, -2], "k": 0})
        self.assertIn("items[0].ground_truth.gains", str(cm.exception))
        with self.assertRaises(fr.FlexrecError):
            fr.ndcg_reward(["[1]"], [[1, 2]], [0, 0])


class Failures(unittest.TestCase):
    """A missing binary or a dead server is an exception, never a reward of 0."""

    def setUp(self):
        self.saved = dict(os.environ)
        self.client, fr._client = fr._client, None

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self.saved)
        if fr._client is not None and fr._client is not self.client:
            fr._client.close()
        fr._client = self.client

    def test_missing_binary(self):
        os.environ["FLEXREC_BIN"] = "/nonexistent/flexrec"
        with self.assertRaises(fr.FlexrecError) as cm:
            fr.compute_score("flexrec", "[1]", {"gains": [1]})
        self.assertIn("FLEXREC_BIN", str(cm.exception))

    def test_no_binary_on_path(self):
        os.environ.pop("FLEXREC_BIN", None)
        os.environ["PATH"] = "/nonexistent"
        with self.assertRaises(fr.FlexrecError) as cm:
            fr.ndcg_reward(["[1]"], [[1]], [0])
        self.assertIn("not found", str(cm.exception))

    def test_unreachable_url(self):
        os.environ["FLEXREC_REWARD_URL"] = "http://127.0.0.1:9"
        with self.assertRaises(fr.FlexrecError) as cm:
            fr.compute_score("flexrec", "[1]", {"gains": [1]})
        self.assertIn("not answering", str(cm.exception))

    def test_dead_child(self):
        c = fr.start_server(support.binary())
        try:
            self.assertTrue(c.healthy())
            c.process.kill()
            c.process.wait()
            with self.assertRaises(fr.FlexrecError) as cm:
                c.score([{"completion": "[1]", "ground_truth": {"gains": [1]}}])
            self.assertIn("exited with code", str(cm.exception))
        finally:
            c.close()

    def test_sigterm_drains_and_exits_0(self):
        c = fr.start_server(support.binary())
        p = c.process
        c.close()
        self.assertEqual(0, p.returncode, "flexrec serve exits 0 on SIGTERM")

    def test_child_stopped_at_exit(self):
        code = (
            "import os, flexrec.reward as r\n"
            f"os.environ['FLEXREC_BIN'] = {support.binary()!r}\n"
            "print(r.compute_score('x', '[1]', {'gains': [1]}), r.client().process.pid, flush=True)\n"
        )
        env = dict(os.environ, PYTHONPATH=support.REPO + "/python")
        env.pop("FLEXREC_REWARD_URL", None)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
        reward, pid = out.split()
        self.assertEqual("1.0", reward)
        self.assertFalse(os.path.exists(f"/proc/{pid}") and "zombie" not in open(f"/proc/{pid}/status").read().lower(),
                         f"the child flexrec serve (pid {pid}) was stopped when Python exited")


if __name__ == "__main__":
    unittest.main()
