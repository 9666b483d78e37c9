import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def real_data_root() -> Path:
    """The folder holding mnist/ and fashion-mnist/ (GANKIT_DATA, else ../shared/data)."""
    root = Path(os.environ.get("GANKIT_DATA", REPO.parent / "shared" / "data"))
    if not (root / "mnist").is_dir():
        pytest.skip(f"real datasets not found under {root}; set GANKIT_DATA")
    return root
