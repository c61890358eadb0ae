"""Shared test options and fixtures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seeds import SEED_FILE

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files (generated/ and tests/golden/) instead of comparing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def seed_available() -> None:
    if not SEED_FILE.exists():
        pytest.skip(f"seed file {SEED_FILE} is not present")


@pytest.fixture(scope="session")
def torch_module():  # type: ignore[no-untyped-def]
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed (pip install -e '.[test]')")
    import torch

    torch.set_num_threads(1)
    return torch
