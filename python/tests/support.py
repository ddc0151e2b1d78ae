"""Shared helpers: the flexrec binary the tests run, built once."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
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
