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


@pytest.fixture
def stop_and_resume(tmp_path):
    """Train a game straight through, and again stopped by Ctrl-C after step ``stop_at`` and resumed.

    ``run(make_game, settings, stop_at)`` returns (whole, resumed, step the resume started from);
    an exact resume gives both games the same weights.
    """
    from gankit.loop import Trainer
    from gankit.runs import RunFolder
    calls = []

    def run(make_game, settings, stop_at):
        root = tmp_path / f"resume{len(calls)}"
        calls.append(root)
        whole = make_game()
        with RunFolder(root / "whole") as folder:
            Trainer(whole, folder, settings).run(progress=False)

        def crash(step, trainer):
            if step == stop_at:
                raise KeyboardInterrupt
        with RunFolder(root / "split") as folder, pytest.raises(KeyboardInterrupt):
            Trainer(make_game(), folder, settings).run(progress=False, callbacks=[crash])
        resumed = make_game()
        with RunFolder(root / "split", resume=True) as folder:
            trainer = Trainer(resumed, folder, settings, resume=True)
            start = trainer.step
            trainer.run(progress=False)
        return whole, resumed, start
    return run
