"""docs/results.md is shared by several benchmark scripts: each owns one marked section.

    from results_doc import update_section
    update_section("attacks", markdown_text)

replaces everything between ``<!-- BEGIN attacks -->`` and ``<!-- END attacks -->``
(appending the section when it is new) and leaves the other sections as they were,
so rerunning one benchmark refreshes only its own table.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results.md"
HEADER = ("# Results\n\nEvery table below was written by the benchmark script named in it; rerun that "
          "command to reproduce it. Nothing here is typed in by hand.\n")


def update_section(name: str, markdown: str, path: Path = RESULTS) -> Path:
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = path.read_text() if path.is_file() else HEADER
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path
