"""FlexRec's item-level credit inside verl: a ``flexrec`` reward manager and
a ``flexrec`` advantage estimator.

Pinned verl: **v0.7.0, commit f9c855f7cf04d603c9546bc01776c74806a879c1**
(github.com/volcengine/verl). Every verl interface used here was read at that
commit:

* ``verl/workers/reward_manager/registry.py``: ``register(name)`` (the
  class decorator) and ``get_reward_manager_cls(name)``;
* ``verl/workers/reward_manager/abstract.py``: ``AbstractRewardManager``,
  ``__init__(tokenizer, num_examine, compute_score, reward_fn_key="data_source",
  **kwargs)`` and ``__call__(data, return_dict=False)`` returning the
  reward tensor or ``{"reward_tensor", "reward_extra_info"}``;
* ``verl/workers/reward_manager/naive.py``: how a row's valid response is
  cut out (``attention_mask[prompt_length:].sum()``) and its ground truth
  read (``non_tensor_batch["reward_model"]["ground_truth"]``);
* ``verl/trainer/ppo/core_algos.py``: ``register_adv_est(name)``,
  ``get_adv_estimator_fn(name)``, and the estimator signature of
  ``compute_grpo_outcome_advantage(token_level_rewards, response_mask, index,
  epsilon=1e-6, norm_adv_by_std_in_grpo=True, config=None)`` returning
  ``(advantages, returns)``;
* ``verl/trainer/ppo/ray_trainer.py``: ``compute_advantage(data,
  adv_estimator, gamma, lam, num_repeat, norm_adv_by_std_in_grpo, config)``
  calls a registered estimator with ``token_level_rewards``,
  ``response_mask``, ``config`` and ``index`` (the ``uid``) only, and puts
  the reward manager's ``reward_extra_info`` into ``non_tensor_batch`` with
  ``np.array(v)`` per key.

What verl's interfaces cannot carry: a registered estimator sees only the
token rewards, the mask, the uid and the algorithm config. FlexRec's
advantages also need each rollout's list reward, ``u``, generated flags and
item token spans (float64, not the float32 reward tensor). The reward
manager therefore writes them, one JSON text per row, into
``reward_extra_info["flexrec"]`` (verl copies it into ``non_tensor_batch``),
and importing this module in the trainer process wraps
``verl.trainer.ppo.ray_trainer.compute_advantage`` so that, for
``algorithm.adv_estimator=flexrec`` only, it hands that column to the
estimator as ``flexrec=``. Without it the estimator refuses to run rather
than guess. ``use_kl_in_reward`` is not honoured (the estimator reads the
float64 rewards, not ``token_level_rewards``); use verl's KL loss instead.

Without verl (and without torch for the pure functions) the module still
offers the plain API: :func:`offsets_from_ids`, :func:`score_responses`,
:func:`group_advantages` and :func:`token_advantages`.

The advantages mirror the Go package ``rl`` (rl/group.go, rl/normalize.go,
rl/token.go; method spec section 5) operation for operation, so they equal
the native export's ``token_advantages``.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from typing import Any, Callable

from . import reward as _reward

__all__ = [
    "VERL_TAG",
    "VERL_COMMIT",
    "DEFAULTS",
    "options",
    "offsets_from_ids",
    "score_responses",
    "group_advantages",
    "token_advantages",
    "FlexrecRewardManager",
    "compute_flexrec_advantage",
    "install",
]

VERL_TAG = "v0.7.0"
VERL_COMMIT = "f9c855f7cf04d603c9546bc01776c74806a879c1"

#: The name both the reward manager and the estimator register under.
NAME = "flexrec"

#: algorithm.flexrec.* defaults: those of rl.DefaultConfig (rl/config.go).
DEFAULTS = {
    "level": "item",  # rl.LevelItem; "sequence" is the GRPO baseline
    "normalize": "pooled",  # rl.Pooled; "position" is method.md's per-position
    "uncertainty": True,  # False: every c_i = 1 (rl.NoUncertainty)
    "eps": 1e-3,  # c_i = 1/(u_i + eps)
    "scaling": "mean",  # rl.MeanOne; "clamp" or "none"
    "clamp_min": 0.2,
    "clamp_max": 5.0,
    "delta": 1e-4,  # added to every group standard deviation
    "other_tokens": "sequence",  # rl.OtherSequence; "zero"
    "format_penalty": 0.0,  # subtracted per repaired fraction (rl.Penalized)
}


def options(config: Any = None) -> dict:
    """The flexrec options: DEFAULTS overridden by ``config.flexrec`` (verl's
    ``algorithm`` config, a mapping or an object) or a plain dict of them.
    Unknown keys and bad values raise ValueError."""
    sub = None
    if config is not None:
        sub = config.get("flexrec") if hasattr(config, "get") else getattr(config, "flexrec", None)
        if sub is None and isinstance(config, dict) and set(config) <= set(DEFAULTS):
            sub = config
    out = dict(DEFAULTS)
    if sub is not None:
        items = sub.items() if hasattr(sub, "items") else vars(sub).items()
        for k, v in items:
            if k not in DEFAULTS:
                raise ValueError(f"algorithm.flexrec.{k}: unknown option (known: {', '.join(DEFAULTS)})")
            out[k] = v
    out["uncertainty"] = _flag(out["uncertainty"])
    for k in ("eps", "delta", "clamp_min", "clamp_max", "format_penalty"):
        out[k] = float(out[k])
    checks = [
        (out["level"] in ("item", "sequence"), "level", "item or sequence"),
        (out["normalize"] in ("pooled", "position"), "normalize", "pooled or position"),
        (out["scaling"] in ("mean", "clamp", "none"), "scaling", "mean, clamp or none"),
        (out["other_tokens"] in ("sequence", "zero"), "other_tokens", "sequence or zero"),
        (0 < out["eps"] < math.inf, "eps", "finite > 0"),
        (0 < out["delta"] < math.inf, "delta", "finite > 0"),
        (0 <= out["format_penalty"] < math.inf, "format_penalty", "finite >= 0"),
        (out["scaling"] != "clamp" or 0 < out["clamp_min"] <= out["clamp_max"] < math.inf,
         "clamp_min/clamp_max", "0 < min <= max, finite"),
    ]
    for ok, key, want in checks:
        if not ok:
            raise ValueError(f"algorithm.flexrec.{key} = {out[key.split('/')[0]]!r}: want {want}")
    return out


def _flag(v) -> bool:
    if isinstance(v, str):
        if v.lower() in ("none", "off", "false", "0", "no"):
            return False
        if v.lower() in ("on", "true", "1", "yes", "propagated"):
            return True
        raise ValueError(f"algorithm.flexrec.uncertainty = {v!r}: want true or false")
    return bool(v)


# ---------------------------------------------------------------------------
# Advantages: rl/normalize.go, rl/group.go, rl/token.go, in float64.


def _standardize(dst: list, x: list, skip, off: int, stride: int, n: int, delta: float) -> None:
    """rl.standardize: dst[j] = (x[j] - mean)/(std + delta) over the strided
    entries not skipped (sample std); 0 for skipped entries and for a set
    that is constant or has fewer than 2 entries."""
    end = off + stride * n
    used = [j for j in range(off, end, stride) if skip is None or not skip[j]]
    cnt = float(len(used))
    s = 0.0
    lo, hi = math.inf, -math.inf
    for j in used:
        s += x[j]
        lo, hi = min(lo, x[j]), max(hi, x[j])
    mean = s / cnt if cnt else math.nan
    ss = 0.0
    for j in used:
        ss += (x[j] - mean) * (x[j] - mean)
    inv = 1 / (math.sqrt(ss / (cnt - 1)) + delta) if cnt >= 2 else 0.0
    usedset = set(used)
    for j in range(off, end, stride):
        dst[j] = 0.0
        if cnt >= 2 and lo != hi and j in usedset:
            dst[j] = (x[j] - mean) * inv


def _scales(u: list, eps: float, mode: str, lo: float, hi: float) -> list:
    """rl.ScalesInto: c_i = 1/(u_i + eps), renormalised to mean 1 (mean),
    then clamped (clamp), or raw (none)."""
    c = [1 / (max(x, 0.0) + eps) for x in u]
    if mode == "none" or not c:
        return c
    s = 0.0
    for x in c:
        s += x
    mean = s / len(c)
    out = []
    for x in c:
        x /= mean
        if mode == "clamp":
            x = min(max(x, lo), hi)
        out.append(x)
    return out


def group_advantages(list_rewards, item_rewards, u, generated, config: Any = None) -> dict:
    """FlexRec's advantages of one group (the G rollouts of one prompt), as
    rl.Group.Compute: ``list_rewards`` R_i (before the format penalty of
    ``config``), ``item_rewards`` G rows of K r_{i,k}, ``u`` the G rollout
    uncertainties, ``generated`` G rows of K flags (False: repaired, no
    credit). Returns ``{"rewards", "scales", "sequence", "items"}``: the
    penalised R_i, c_i, GRPO(R)_i * c_i and the G x K item advantages."""
    o = options(config)
    g = len(list_rewards)
    if g == 0:
        raise ValueError("flexrec: group has no rollouts")
    k = len(item_rewards[0])
    for i in range(g):
        if len(item_rewards[i]) != k or len(generated[i]) != k:
            raise ValueError(f"flexrec: rollout {i} has {len(item_rewards[i])} item rewards and "
                             f"{len(generated[i])} flags, rollout 0 has {k} positions")
    skip = [not bool(f) for row in generated for f in row]
    rewards = []
    for i in range(g):
        repaired = sum(skip[i * k:(i + 1) * k])
        r = float(list_rewards[i])
        if repaired > 0 and k > 0 and o["format_penalty"] != 0:
            r = r - o["format_penalty"] * float(repaired) / float(k)
        rewards.append(r)
    seq = [0.0] * g
    _standardize(seq, rewards, None, 0, 1, g, o["delta"])
    if o["uncertainty"]:
        scale = _scales([float(x) for x in u], o["eps"], o["scaling"], o["clamp_min"], o["clamp_max"])
    else:
        scale = [1.0] * g
    seq = [seq[i] * scale[i] for i in range(g)]
    item = [float(x) for row in item_rewards for x in row]
    adv = [0.0] * (g * k)
    if o["level"] == "sequence":
        for j in range(g * k):
            adv[j] = 0.0 if skip[j] else seq[j // k]
    else:
        if o["normalize"] == "pooled":
            _standardize(adv, item, skip, 0, 1, g * k, o["delta"])
        else:
            for p in range(k):
                _standardize(adv, item, skip, p, k, g, o["delta"])
        for j in range(g * k):
            adv[j] *= scale[j // k]
    return {"rewards": rewards, "scales": scale, "sequence": seq,
            "items": [adv[i * k:(i + 1) * k] for i in range(g)]}


def token_advantages(item_adv, seq_adv: float, spans, tokens: int, other_tokens: str = "sequence") -> list:
    """rl.TokenAdvantagesInto for one rollout: tokens [first, last) of
    position p's span get item_adv[p]; every other token seq_adv (or 0 under
    other_tokens="zero"). ``spans`` has one ``(first, last)`` per position,
    None for a repaired one; spans must not overlap and lie in [0, tokens]."""
    if len(spans) != len(item_adv):
        raise ValueError(f"flexrec: {len(spans)} spans for {len(item_adv)} positions")
    out = [0.0 if other_tokens == "zero" else float(seq_adv)] * tokens
    prev = 0
    for p, s in enumerate(spans):
        if s is None:
            continue
        first, last = s
        if first < prev or last < first or last > tokens:
            raise ValueError(f"flexrec: span of position {p + 1} is [{first},{last}) after {prev}, "
                             f"want within [{prev},{tokens}] and not overlapping")
        for t in range(first, last):
            out[t] = item_adv[p]
        prev = last
    return out


# ---------------------------------------------------------------------------
# Rewards: token offsets from the tokenizer, /v1/score per step.


def offsets_from_ids(tokenizer, ids) -> tuple[str, list]:
    """The completion text of token ids and each token's byte range [start,
    end) in it. The text is ``tokenizer.decode(ids, skip_special_tokens=True)``
    (as verl's reward managers decode). Each token's piece is what decoding
    it adds after the text already emitted (over a window of a few earlier
    tokens, so a step costs O(length)); a token that leaves an incomplete
    character (U+FFFD at the end) or changes earlier text emits nothing, and
    the text goes to the token that completes it. When the pieces do not
    join to the text, every token's end is taken from the decoded prefix
    ids[:t+1] instead (O(length^2))."""
    ids = [int(x) for x in (ids.tolist() if hasattr(ids, "tolist") else ids)]
    text = tokenizer.decode(ids, skip_special_tokens=True)
    total = len(text.encode("utf-8"))
    pieces, done = [], 0
    for t in range(len(ids)):
        s = max(0, done - 6)
        a = tokenizer.decode(ids[s:done], skip_special_tokens=True) if done > s else ""
        b = tokenizer.decode(ids[s:t + 1], skip_special_tokens=True)
        if b.startswith(a) and not b.endswith("\ufffd"):
            pieces.append(b[len(a):])
            done = t + 1
        else:
            pieces.append("")
    offsets, prev = [], 0
    if "".join(pieces) == text:
        for piece in pieces:
            end = prev + len(piece.encode("utf-8"))
            offsets.append([prev, end])
            prev = end
        return text, offsets
    for t in range(len(ids)):
        if t == len(ids) - 1:
            end = total
        else:
            pre = tokenizer.decode(ids[:t + 1], skip_special_tokens=True)
            end = len(pre.encode("utf-8")) if text.startswith(pre) else prev
            end = min(max(end, prev), total)
        offsets.append([prev, end])
        prev = end
    return text, offsets


def _positions(spans, offsets) -> list:
    """Token range [first, last) of each generated position from the
    report's byte spans, by the rule of `flexrec serve`'s token_rewards (a
    token goes to the first generated item it overlaps) and of the native
    export (rollout.tokenSpans: a shared token goes to the earlier item)."""
    out = [None] * len(spans)
    j = 0
    for t, (a, b) in enumerate(offsets):
        while j < len(spans) and spans[j][1] <= a:
            j += 1
        if j < len(spans) and spans[j][0] < b and a < b:
            if out[j] is None:
                out[j] = [t, t + 1]
            else:
                out[j][1] = t + 1
    prev = 0
    res = []
    for s in out:
        if s is None:
            res.append([prev, prev])
        else:
            first = max(s[0], prev)
            res.append([first, max(s[1], first)])
            prev = res[-1][1]
    return res


def _generated_spans(rep: dict) -> list:
    """The byte spans of the generated positions, in position order. The
    report's ``spans`` are aligned with its ``generated`` (every id parsed,
    duplicates and unknown ids included); the first n_generated entries of
    its ``permutation`` are the ids the model wrote, in the order it wrote
    them, so they are matched in order against the parsed ids (a later
    duplicate never matches: its id came earlier in the permutation)."""
    perm = rep.get("permutation") or []
    n = int(rep.get("n_generated") or 0)
    out, g = [], 0
    for sid, span in zip(rep.get("generated") or [], rep.get("spans") or []):
        if g < n and sid == perm[g]:
            out.append(span)
            g += 1
    return out


#: Report fields copied into reward_extra_info (one scalar per row).
REPORT_FIELDS = ("valid", "format_ok", "truncated", "n_generated")
REPORT_COUNTS = ("duplicates", "unknown", "missing", "ambiguous")


def score_responses(completions, ground_truths, offsets, finish_reasons=None, client=None) -> list[dict]:
    """One /v1/score request set for a step: each completion with its ground
    truth (verl's reward_model.ground_truth: an object or its JSON text) and
    token byte offsets. Returns per row ``{"token_rewards", "info",
    "carry"}``: the item reward on each token, the scalar extra info for
    verl's logging, and the JSON text the estimator reads."""
    items = []
    for i, (c, gt, off) in enumerate(zip(completions, ground_truths, offsets)):
        it = {"completion": c, "ground_truth": _reward._plain(gt), "offsets": off}
        if finish_reasons and finish_reasons[i]:
            it["finish_reason"] = finish_reasons[i]
        items.append(it)
    res = (client or _reward.client()).score(items)
    out = []
    for r, off in zip(res, offsets):
        rep = r.get("report") or {}
        spans = _generated_spans(rep)
        gen = [bool(x) for x in r["generated"]]
        pos = _positions(spans, off)
        token_spans = [pos[p] if p < len(pos) and gen[p] else None for p in range(len(gen))]
        info = {"list_reward": float(r["list_reward"]), "u": float(r["u"])}
        for f in REPORT_FIELDS:
            info[f] = rep.get(f)
        for f in REPORT_COUNTS:
            info[f] = len(rep.get(f) or [])
        carry = json.dumps({"list_reward": r["list_reward"], "item_rewards": r["item_rewards"], "u": r["u"],
                            "generated": gen, "spans": token_spans, "tokens": len(off)})
        out.append({"token_rewards": [float(x) for x in r["token_rewards"]], "info": info, "carry": carry})
    return out


# ---------------------------------------------------------------------------
# verl glue: the registries, when verl is importable.


def _verl_register_reward_manager() -> Callable:
    try:
        from verl.workers.reward_manager import register  # type: ignore
    except ImportError:
        return lambda cls: cls
    return register(NAME)


def _verl_register_adv_est() -> Callable:
    try:
        from verl.trainer.ppo.core_algos import register_adv_est  # type: ignore
    except ImportError:
        return lambda fn: fn
    return register_adv_est(NAME)


def _base():
    try:
        from verl.workers.reward_manager.abstract import AbstractRewardManager  # type: ignore
        return AbstractRewardManager
    except ImportError:
        return object


@_verl_register_reward_manager()
class FlexrecRewardManager(_base()):
    """verl reward manager ``flexrec`` (reward_model.reward_manager=flexrec):
    for each row it decodes the valid response tokens, gets their byte
    offsets from the tokenizer, scores all rows of the step with one batched
    /v1/score call, and puts each item's reward on the tokens that wrote its
    id. ``reward_extra_info`` holds per row the list reward, ``u``, the
    report's valid/format_ok/truncated/n_generated and counts of duplicates,
    unknown, missing and ambiguous ids, and ``flexrec`` (the JSON text the
    flexrec estimator reads). ``compute_score`` is ignored: the reward is
    flexrec's."""

    def __init__(self, tokenizer, num_examine=0, compute_score=None, reward_fn_key="data_source", **kwargs):
        self.tokenizer = tokenizer
        self.num_examine = num_examine
        self.reward_fn_key = reward_fn_key
        self.client = kwargs.get("client")

    def __call__(self, data, return_dict: bool = False):
        import torch

        if hasattr(self, "_extract_reward_from_rm_scores"):
            done = self._extract_reward_from_rm_scores(data, return_dict)
            if done is not None:
                return done
        responses = data.batch["responses"]
        prompt_len = data.batch["prompts"].shape[-1] if "prompts" in data.batch.keys() else \
            data.batch["attention_mask"].shape[-1] - responses.shape[-1]
        lengths, texts, offsets, gts = [], [], [], []
        for i in range(responses.shape[0]):
            n = int(data.batch["attention_mask"][i, prompt_len:].sum())
            text, off = offsets_from_ids(self.tokenizer, responses[i, :n])
            lengths.append(n)
            texts.append(text)
            offsets.append(off)
            gts.append(data.non_tensor_batch["reward_model"][i]["ground_truth"])
        rows = score_responses(texts, gts, offsets, client=self.client)
        reward = torch.zeros_like(responses, dtype=torch.float32)
        extra: dict[str, list] = OrderedDict()
        for i, row in enumerate(rows):
            if lengths[i]:
                reward[i, :lengths[i]] = torch.tensor(row["token_rewards"], dtype=torch.float32)
            for key, v in row["info"].items():
                extra.setdefault(key, []).append(v)
            extra.setdefault("flexrec", []).append(row["carry"])
        for i in range(min(self.num_examine, len(rows))):
            print("[flexrec response]", texts[i])
            print("[flexrec]", rows[i]["info"])
        if return_dict:
            return {"reward_tensor": reward, "reward_extra_info": extra}
        return reward


@_verl_register_adv_est()
def compute_flexrec_advantage(token_level_rewards, response_mask, index=None, epsilon: float = 1e-6,
                              norm_adv_by_std_in_grpo: bool = True, config=None, flexrec=None, **kwargs):
    """verl advantage estimator ``flexrec`` (algorithm.adv_estimator=flexrec),
    with compute_grpo_outcome_advantage's signature plus ``flexrec``: per row
    the JSON text the flexrec reward manager wrote (install() passes
    non_tensor_batch["flexrec"]). Groups rows by ``index`` (verl's uid) and
    returns (advantages, returns), both the token advantages of
    group_advantages and token_advantages under algorithm.flexrec.*, times
    response_mask. ``epsilon`` and ``norm_adv_by_std_in_grpo`` are accepted
    for verl's call and ignored (algorithm.flexrec.delta is the epsilon)."""
    import torch

    if flexrec is None:
        raise ValueError("flexrec estimator: no per-row flexrec data; use reward_model.reward_manager=flexrec "
                         "and import flexrec.verl in the trainer process (it wraps compute_advantage)")
    if index is None:
        raise ValueError("flexrec estimator: no uid index to group rollouts by")
    o = options(config)
    rows = [json.loads(x) if isinstance(x, (str, bytes)) else x for x in flexrec]
    adv = token_advantages_for_rows(rows, [str(x) for x in index], o)
    out = torch.zeros_like(token_level_rewards, dtype=torch.float32)
    for i, a in enumerate(adv):
        n = min(len(a), out.shape[-1])
        if n:
            out[i, :n] = torch.tensor(a[:n], dtype=torch.float32)
    out = out * response_mask
    return out, out


def token_advantages_for_rows(rows: list, index: list, config: Any = None) -> list:
    """Token advantages of rows grouped by index; each row a dict with
    list_reward, item_rewards, u, generated, spans (token [first, last) per
    position, None when repaired) and tokens (the row's token count)."""
    o = options(config)
    groups: dict = OrderedDict()
    for i, uid in enumerate(index):
        groups.setdefault(uid, []).append(i)
    out: list = [None] * len(rows)
    for members in groups.values():
        rs = [rows[i] for i in members]
        ga = group_advantages([r["list_reward"] for r in rs], [r["item_rewards"] for r in rs],
                              [r["u"] for r in rs], [r["generated"] for r in rs], o)
        for m, i in enumerate(members):
            out[i] = token_advantages(ga["items"][m], ga["sequence"][m], rows[i]["spans"], rows[i]["tokens"],
                                      o["other_tokens"])
    return out


def install() -> bool:
    """Wraps verl.trainer.ppo.ray_trainer.compute_advantage so that, for
    adv_estimator "flexrec", the registered estimator gets
    data.non_tensor_batch["flexrec"]. Other estimators are untouched. Returns
    False when verl is not importable. Idempotent; runs on import."""
    try:
        from verl.trainer.ppo import ray_trainer  # type: ignore
    except ImportError:
        return False
    orig = ray_trainer.compute_advantage
    if getattr(orig, "_flexrec", False):
        return True

    def compute_advantage(data, adv_estimator, *args, **kwargs):
        name = getattr(adv_estimator, "value", adv_estimator)
        if name != NAME:
            return orig(data, adv_estimator, *args, **kwargs)
        if "response_mask" not in data.batch.keys():
            data.batch["response_mask"] = ray_trainer.compute_response_mask(data)
        config = kwargs.get("config", args[4] if len(args) > 4 else None)
        adv, ret = compute_flexrec_advantage(
            token_level_rewards=data.batch["token_level_rewards"], response_mask=data.batch["response_mask"],
            index=data.non_tensor_batch["uid"], config=config, flexrec=data.non_tensor_batch["flexrec"])
        data.batch["advantages"] = adv
        data.batch["returns"] = ret
        return data

    compute_advantage._flexrec = True
    ray_trainer.compute_advantage = compute_advantage
    return True


install()
