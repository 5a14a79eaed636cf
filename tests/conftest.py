"""Shared fixtures. Tests marked ``docker`` need a running engine and the sandbox image:
they FAIL (not skip) without them, so a broken setup cannot pass CI silently."""

from __future__ import annotations

import os

import pytest
from sppo_gym.sandbox import get_pool

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def sandbox_pool():
    """The process-wide Docker pool, warmed once per test session."""
    pool = get_pool()
    if pool.backend != "docker":
        pytest.fail("docker-marked tests need the Docker backend (unset SPPO_GYM_SANDBOX)")
    return pool
