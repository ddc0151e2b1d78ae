"""Mirrors verl/workers/reward_manager/__init__.py at v0.7.0 (its registry exports)."""
from .registry import get_reward_manager_cls, register  # noqa: F401
