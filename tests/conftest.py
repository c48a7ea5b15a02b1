"""Shared fixtures: the repository's real test data, one thread, offline hubs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def test_data() -> Path:
    """tests/data: real, openly licensed test data bundled with the repository (see its README)."""
    return TEST_DATA


@pytest.fixture(scope="session")
def slovenia(test_data: Path) -> Path:
    return test_data / "s2_l1c_slovenia_eolearn"


@pytest.fixture(scope="session", autouse=True)
def _torch_one_thread() -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
