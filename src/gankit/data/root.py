"""Where dataset files live: one rule, shared by the loaders, download() and the CLI."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "GANKIT_DATA"


def default_data_root() -> Path:
    """The per-user cache folder: ``($XDG_CACHE_HOME or ~/.cache)/gankit/data``."""
    cache = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    base = Path(cache) if cache and os.path.isabs(cache) else Path.home() / ".cache"
    return base / "gankit" / "data"


def resolve_data_root(data_root: str | Path | None = None) -> Path:
    """The data folder: explicit argument, else ``$GANKIT_DATA``, else the user cache.

    The folder need not exist; loaders say which file is missing.
    """
    if data_root is not None and str(data_root) != "":
        return Path(data_root).expanduser()
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser()
    return default_data_root()
