"""docs/results.md is shared by several benchmark scripts: each owns one marked section.

    from results_doc import update_section
    update_section("attacks", markdown_text)

replaces everything between ``<!-- BEGIN attacks -->`` and ``<!-- END attacks -->`` and
leaves the other sections as they were, so rerunning one benchmark refreshes only its own
table. Sections stand in a fixed order (ORDER; others after them), and the summary table at
the top (benchmarks/summary.py) is rebuilt from the records after every update.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results.md"
HEADER = ("# Results\n\nEvery table below was written by the benchmark script named in it; rerun that "
          "command to reproduce it. Nothing here is typed in by hand.\n")
ORDER = ("summary", "gans", "semisup", "semisup_fashion", "semisup_speed", "attacks", "privacy", "translate",
         "restore", "provenance", "detect", "fairness", "augment")
_SECTION = re.compile(r"<!-- BEGIN (\S+) -->\n(.*?)\n<!-- END \1 -->", re.S)


def read_sections(path: Path = RESULTS) -> dict[str, str]:
    """Section name -> its markdown, as the page holds them."""
    text = path.read_text() if path.is_file() else ""
    return {m.group(1): m.group(2) for m in _SECTION.finditer(text)}


def write_sections(sections: dict[str, str], path: Path = RESULTS, header: str = HEADER) -> Path:
    names = [n for n in ORDER if n in sections] + [n for n in sections if n not in ORDER]
    blocks = [f"<!-- BEGIN {n} -->\n{sections[n].strip()}\n<!-- END {n} -->" for n in names]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(header + "\n" + "\n\n".join(blocks) + "\n")
    tmp.replace(path)
    return path


def update_section(name: str, markdown: str, path: Path = RESULTS, summary: bool = True,
                   header: str = HEADER) -> Path:
    """Replace section ``name`` of ``path`` (a page of marked sections under ``header``)."""
    sections = read_sections(path)
    sections[name] = markdown
    write_sections(sections, path, header)
    if summary and name != "summary" and path == RESULTS:
        from summary import write_summary   # the headline table follows the records
        write_summary(path)
    return path


def settings_slug(overrides=()) -> str:
    """``--set`` overrides as a piece of a file or folder name ("" for none), so a run or picture with other
    settings than its recipe's is kept apart from the recipe's."""
    changed = re.sub(r"[^A-Za-z0-9.]+", "-", " ".join(overrides)).strip("-")
    if len(changed) > 48:   # many overrides: a short name that still tells them apart
        changed = f"{changed[:32]}-{hashlib.sha256(changed.encode()).hexdigest()[:8]}"
    return changed
