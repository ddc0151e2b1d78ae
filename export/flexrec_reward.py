"""FlexRec's reward for trainers, computed by ``flexrec serve``.

This one file is the whole client: the Python package ``flexrec`` ships it
as ``flexrec.reward``, and every trl-grpo and verl export folder carries a
copy as ``flexrec_reward.py`` that TRL and verl load as it is. It needs
only the standard library (Python >= 3.10).

Every score comes from the ``flexrec`` program itself (the same parser and
reward as ``flexrec parse`` and ``flexrec reward``, and as the rollout
records), never from a second implementation:

* when ``FLEXREC_REWARD_URL`` is set (e.g. ``http://127.0.0.1:8471``), from
  the ``flexrec serve`` running there (``FLEXREC_REWARD_TOKEN``: its bearer
  token, if it has one);
* else from a ``flexrec serve`` child process on a free loopback port,
  started once per Python process from ``FLEXREC_BIN`` or the ``flexrec`` on
  ``PATH``, and stopped (SIGTERM) when the process exits.

A missing binary, a server that died or does not answer, and a request the
server refuses raise :class:`FlexrecError`; a reward is never silently 0.

Functions:

* ``ndcg_reward(completions, gains, k, **kwargs)``: a TRL ``GRPOTrainer``
  reward function for the trl-grpo export (its ``gains`` and ``k`` columns,
  and ``variances`` and ``titles`` when present);
* ``compute_score(data_source, solution_str, ground_truth, extra_info=None)``:
  verl's ``custom_reward_function`` for the verl export (``ground_truth`` is
  the row's ``reward_model.ground_truth``);
* ``compute_score_batch(data_sources, solution_strs, ground_truths,
  extra_infos=None, **kwargs)``: the same for verl's batch reward manager
  (``reward_manager.name=batch``);
* ``score(items)``: the full ``/v1/score`` results (item and token rewards,
  the parse report).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

__all__ = [
    "FlexrecError",
    "Client",
    "client",
    "score",
    "ndcg_reward",
    "compute_score",
    "compute_score_batch",
]

#: Items per HTTP request: a batch stays well under the server's 64 MiB body
#: limit for answers of a few KB.
BATCH = 2048

#: Seconds a child ``flexrec serve`` may take to print its address.
START_TIMEOUT = 30.0


class FlexrecError(RuntimeError):
    """The reward could not be computed: no binary, a dead or unreachable
    server, or input the server refused (its message says which item and
    field)."""


class Client:
    """A client of one ``flexrec serve`` at ``url`` (``http://host:port``).

    ``token`` is the server's bearer token, if any; ``timeout`` bounds each
    HTTP request in seconds. Safe for use from several threads.
    """

    def __init__(self, url: str, token: str | None = None, timeout: float = 300.0):
        self.url = url.rstrip("/")
        self.token = token or None
        self.timeout = timeout
        self.process: subprocess.Popen | None = None  # set for a child server
        self._stderr_path: str | None = None

    def __repr__(self) -> str:
        # Never print the token.
        return f"Client(url={self.url!r}, token={'<set>' if self.token else None})"

    def _post(self, path: str, payload: dict) -> dict:
        body = json.dumps(payload, allow_nan=False).encode()
        req = urllib.request.Request(self.url + path, data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail)["error"]
            except (ValueError, KeyError, TypeError):
                pass
            raise FlexrecError(f"flexrec serve at {self.url} answered {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            raise FlexrecError(f"flexrec serve at {self.url} is not answering: {e}{self._child_state()}") from e

    def _child_state(self) -> str:
        """Says how a child server ended, when it did."""
        if self.process is None or self.process.poll() is None:
            return ""
        tail = ""
        if self._stderr_path:
            try:
                with open(self._stderr_path, encoding="utf-8", errors="replace") as f:
                    tail = f.read()[-2000:]
            except OSError:
                pass
        return f" (the child flexrec serve exited with code {self.process.returncode}; stderr: {tail.strip()!r})"

    def score(self, items: list[dict], fields: list[str] | None = None) -> list[dict]:
        """POST items to /v1/score in batches and return one result per item.

        Each item is ``{"completion": str, "ground_truth": dict or JSON
        text}`` with optional ``item_reward``, ``cutoff``,
        ``finish_reason`` and ``offsets``; each result has ``list_reward``,
        ``item_rewards``, ``permutation``, ``generated``, ``report``, ``u``
        and ``token_rewards`` (only ``fields`` when given, e.g.
        ``["list_reward"]``).
        """
        out: list[dict] = []
        for lo in range(0, len(items), BATCH):
            batch = items[lo : lo + BATCH]
            payload = {"items": batch}
            if fields:
                payload["fields"] = list(fields)
            res = self._post("/v1/score", payload).get("results")
            if not isinstance(res, list) or len(res) != len(batch):
                raise FlexrecError(f"flexrec serve at {self.url}: malformed answer to /v1/score")
            out.extend(res)
        return out

    def healthy(self) -> bool:
        """Reports whether GET /healthz answers 200."""
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=5) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def close(self) -> None:
        """Stops a child server (SIGTERM, then SIGKILL after 10 s)."""
        p, self.process = self.process, None
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p.stdout is not None:
            try:
                p.stdout.close()
            except OSError:
                pass
        if self._stderr_path:
            try:
                os.unlink(self._stderr_path)
            except OSError:
                pass


def start_server(binary: str | None = None) -> Client:
    """Starts ``flexrec serve --addr 127.0.0.1:0`` as a child process and
    returns a Client for it (its ``process`` is the child). ``binary``
    defaults to ``FLEXREC_BIN``, else ``flexrec`` on ``PATH``."""
    binary = binary or os.environ.get("FLEXREC_BIN") or shutil.which("flexrec")
    if not binary:
        raise FlexrecError(
            "flexrec binary not found: put flexrec on PATH, set FLEXREC_BIN to it, "
            "or set FLEXREC_REWARD_URL to a running `flexrec serve`"
        )
    if not os.access(binary, os.X_OK):
        raise FlexrecError(f"flexrec binary {binary!r} (FLEXREC_BIN or PATH) is not an executable file")
    fd, err_path = tempfile.mkstemp(prefix="flexrec-serve-", suffix=".log")
    with os.fdopen(fd, "wb") as err:
        proc = subprocess.Popen(
            [binary, "serve", "--addr", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
            start_new_session=True,  # a Ctrl-C meant for the trainer reaches it through close()
        )
    line = _first_line(proc, START_TIMEOUT)
    prefix = "flexrec serve: listening on "
    c = Client(line[len(prefix):].strip() if line.startswith(prefix) else "http://invalid")
    c.process, c._stderr_path = proc, err_path
    if not line.startswith(prefix):
        state = c._child_state() or f" (no address within {START_TIMEOUT:g} s)"
        c.close()
        raise FlexrecError(f"could not start {binary} serve{state}")
    return c


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    """Reads the child's first stdout line, or "" after timeout or exit."""
    box: list[str] = []
    got = threading.Event()

    def read() -> None:
        box.append(proc.stdout.readline().decode("utf-8", "replace"))
        got.set()
        # Keep draining so the child never blocks on a full pipe.
        for _ in iter(lambda: proc.stdout.read(65536), b""):
            pass

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not got.wait(0.05) and time.monotonic() < deadline and proc.poll() is None:
        pass
    return box[0] if box else ""


_lock = threading.Lock()
_client: Client | None = None
_owner_pid = 0


def client() -> Client:
    """Returns this process's Client: FLEXREC_REWARD_URL's server, else a
    child ``flexrec serve`` started on first use (once per process; a forked
    process starts its own) and stopped at exit."""
    global _client, _owner_pid
    with _lock:
        if _client is not None and _owner_pid == os.getpid():
            return _client
        url = os.environ.get("FLEXREC_REWARD_URL")
        if url:
            _client = Client(url, token=os.environ.get("FLEXREC_REWARD_TOKEN"))
        else:
            _client = start_server()
            atexit.register(_stop, _client, os.getpid())
        _owner_pid = os.getpid()
        return _client


def _stop(c: Client, pid: int) -> None:
    if os.getpid() == pid:
        c.close()


def score(items: list[dict], fields: list[str] | None = None) -> list[dict]:
    """Scores items with this process's server; see Client.score."""
    return client().score(items, fields)


def _list_rewards(items: list[dict]) -> list[float]:
    return [float(r["list_reward"]) for r in score(items, ["list_reward"])]


def _plain(x):
    """Turns numpy arrays and scalars (as datasets may hand them over) into
    lists and floats, so they encode as JSON."""
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _text(completion) -> str:
    """The model's text of a completion: a string, or a conversational
    completion (a list of messages, whose contents are joined)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, (list, tuple)):
        return "".join(_text(m) for m in completion)
    raise FlexrecError(f"completion of type {type(completion).__name__}: want a string or a list of messages")


def _column(kwargs: dict, name: str, n: int):
    """An optional per-row column from TRL's keyword arguments."""
    col = kwargs.get(name)
    if col is None:
        return [None] * n
    col = _plain(col)
    if len(col) != n:
        raise FlexrecError(f"column {name!r} has {len(col)} values for {n} completions")
    return col


def ndcg_reward(completions, gains, k, **kwargs) -> list[float]:
    """FlexRec's list reward (NDCG of the parsed, repaired ranking) of each
    completion under its row's gains and cutoff ``k`` (0 or None: the whole
    list), with TRL GRPOTrainer's reward-function signature. ``variances``
    and ``titles`` columns are used when present; other keyword arguments
    (prompts, completion_ids, trainer_state, ...) are ignored."""
    n = len(completions)
    gains, k = _plain(gains), _plain(k)
    if len(gains) != n or len(k) != n:
        raise FlexrecError(f"{n} completions, {len(gains)} gains, {len(k)} k: want one of each per completion")
    variances, titles = _column(kwargs, "variances", n), _column(kwargs, "titles", n)
    items = []
    for i in range(n):
        gt = {"gains": gains[i], "k": int(k[i] or 0)}
        if variances[i] is not None:
            gt["variances"] = variances[i]
        if titles[i] is not None:
            gt["titles"] = titles[i]
        items.append({"completion": _text(completions[i]), "ground_truth": gt})
    return _list_rewards(items)


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> float:
    """FlexRec's list reward of one response, with verl's
    custom_reward_function signature; ground_truth is the row's
    reward_model.ground_truth (JSON text or a dict)."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info])[0]


def compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos=None, **kwargs) -> list[float]:
    """compute_score over a batch in one request, with the signature verl's
    batch reward manager calls (reward_manager.name=batch)."""
    n = len(solution_strs)
    if len(ground_truths) != n:
        raise FlexrecError(f"{n} responses but {len(ground_truths)} ground truths")
    items = [{"completion": _text(s), "ground_truth": _plain(g)} for s, g in zip(solution_strs, ground_truths)]
    return _list_rewards(items)
