"""Shared fixtures: the real data folder, one thread, offline hubs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("GEOGEN_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: real, openly licensed test data (see its README)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (set GEOGEN_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def slovenia(shared_data: Path) -> Path:
    return shared_data / "s2_l1c_slovenia_eolearn"


@pytest.fixture(scope="session", autouse=True)
def _torch_one_thread() -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
