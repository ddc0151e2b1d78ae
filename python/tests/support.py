"""Shared helpers: the flexrec binary the tests run, built once."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_binary: str | None = None
_tmp = tempfile.mkdtemp(prefix="flexrec-pytest-")
atexit.register(shutil.rmtree, _tmp, True)


def tmpdir(name: str) -> str:
    """A fresh folder under this test run's temporary folder."""
    path = tempfile.mkdtemp(prefix=name + "-", dir=_tmp)
    return path


def binary() -> str:
    """FLEXREC_BIN, else `go build -o TMP/flexrec ./cmd/flexrec` from the
    repository (once per test run). Skips, saying why, when neither works."""
    global _binary
    if _binary:
        return _binary
    env = os.environ.get("FLEXREC_BIN")
    if env:
        _binary = env
        return env
    go = shutil.which("go")
    if not go:
        raise unittest.SkipTest("SKIPPED: neither FLEXREC_BIN nor a go toolchain to build ./cmd/flexrec")
    out = os.path.join(_tmp, "flexrec")
    subprocess.run([go, "build", "-o", out, "./cmd/flexrec"], cwd=REPO, check=True)
    _binary = out
    return out


def run(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Runs the flexrec binary, failing with its stderr on a non-zero exit."""
    p = subprocess.run([binary(), *args], cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"flexrec {' '.join(args)} exited {p.returncode}: {p.stderr[-3000:]}")
    return p


def ollama_run(name: str, what: str, rollout: str, exports: str) -> str:
    """Run `flexrec run` against the project's test Ollama model (two needs,
    8 episodes each, 30 candidates) into a fresh folder and return it.

    Without FLEXREC_OLLAMA_HOST the calling test class is skipped, with a
    notice on stderr saying how to start the server."""
    host = os.environ.get("FLEXREC_OLLAMA_HOST")
    if not host:
        msg = (f"SKIPPED: {what}: FLEXREC_OLLAMA_HOST is not set; start the test model with "
               "`eval \"$(bash scripts/ollama-test-server.sh start)\"`")
        print("\n" + msg, file=sys.stderr, flush=True)
        raise unittest.SkipTest(msg)
    model = os.environ.get("FLEXREC_OLLAMA_MODEL", "flexrec-tiny")
    d = tmpdir(name)
    cfg = os.path.join(d, "job.yaml")
    with open(cfg, "w") as f:
        f.write(
            "needs: [interest, explore]\n"
            "episodes: {limit: 8, candidates: 30, history: 5}\n"
            f"backend: {{kind: ollama, model: {model}, base_url: {host}, concurrency: 2}}\n"
            f"rollout: {rollout}\n"
            f"exports: [{exports}]\n"
            "eval: {rankers: [random], holdout: 0}\n"
        )
    out = os.path.join(d, "run")
    run("run", "--config", cfg, "--out", out, "--no-eval")
    return out


def use_binary() -> None:
    """Point the client at the test binary and at no reward server, so
    each test process starts its own `flexrec serve` child."""
    os.environ["FLEXREC_BIN"] = binary()
    os.environ.pop("FLEXREC_REWARD_URL", None)


def records(path: str) -> list[dict]:
    """The JSON lines of path (blank lines skipped)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]

