import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def one_thread():
    """Tiny nets run faster on one thread than on two contended ones; restored afterwards."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def real_data_root() -> Path:
    """The folder holding mnist/ and fashion-mnist/ (GANKIT_DATA, else ../shared/data)."""
    # absolute: a relative GANKIT_DATA (the README's ../shared/data) must work from any test's folder
    root = Path(os.environ.get("GANKIT_DATA", REPO.parent / "shared" / "data")).resolve()
    if not (root / "mnist").is_dir():
        pytest.skip(f"real datasets not found under {root}; set GANKIT_DATA")
    return root
