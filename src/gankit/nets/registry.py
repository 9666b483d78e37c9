"""Name -> class tables that the CLI and the recipes use to find a network.

Registration raises on a duplicate name so that two modules can never silently
shadow each other's architecture.
"""

from __future__ import annotations

from collections.abc import Callable

GENERATORS: dict[str, type] = {}
DISCRIMINATORS: dict[str, type] = {}


def _register(table: dict[str, type], kind: str, name: str) -> Callable[[type], type]:
    def add(cls: type) -> type:
        if name in table:
            raise ValueError(
                f"{kind} {name!r} is already registered (by {table[name].__qualname__}); pick another name"
            )
        table[name] = cls
        return cls

    return add


def register_generator(name: str) -> Callable[[type], type]:
    """Class decorator: make a generator buildable as `build_generator(name, ...)`."""
    return _register(GENERATORS, "generator", name)


def register_discriminator(name: str) -> Callable[[type], type]:
    """Class decorator: make a discriminator buildable as `build_discriminator(name, ...)`."""
    return _register(DISCRIMINATORS, "discriminator", name)


def lookup(table: dict[str, type], kind: str, name: str) -> type:
    """The class registered under `name`, or a ValueError that lists the known names."""
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "(none)"
        raise ValueError(f"unknown {kind} architecture {name!r}; known: {known}") from None
