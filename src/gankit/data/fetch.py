"""Fetch the official dataset files, for users who are online. Loading never downloads."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import logging
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

from gankit.data import cifar, idx
from gankit.data.root import resolve_data_root
from gankit.errors import DataError

log = logging.getLogger(__name__)

# Where each dataset comes from; a dict so tests (and users behind a mirror) can change it.
URLS: dict[str, str] = {
    "mnist": idx.SOURCES["mnist"].url,
    "fashion-mnist": idx.SOURCES["fashion-mnist"].url,
    "cifar10": cifar.URL,
}
TIMEOUT_S = 60
_CHUNK = 1 << 20


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _offline_message(url: str, reason: object, how: str, root: Path) -> str:
    return (
        f"download of {url} failed: {reason}.\n"
        f"If this machine is offline, {how}; then point --data-root / $GANKIT_DATA at "
        f"{root}."
    )


def _copy_atomic(stream: IO[bytes], dest: Path, accept: Callable[[Path, str], bool] | None,
                 on_read_error: Callable[[Exception], DataError]) -> None:
    """Stream into a temp file next to ``dest``, check it, then rename: never a half file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out:
            while True:
                try:
                    chunk = stream.read(_CHUNK)
                except (OSError, http.client.HTTPException, EOFError, zlib.error,
                        tarfile.TarError) as exc:
                    raise on_read_error(exc) from exc
                if not chunk:
                    break
                digest.update(chunk)
                out.write(chunk)
        if accept is not None and not accept(tmp, digest.hexdigest()):
            raise DataError(f"{dest.name}: checksum mismatch after download; the server sent "
                            f"something other than the official file. Try again later.")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)  # a no-op after os.replace


def _fetch(url: str, dest: Path, accept: Callable[[Path, str], bool], how: str,
           root: Path) -> None:
    """Download ``url`` to ``dest``; ``how`` tells an offline user how to do it by hand."""

    def failed(exc: Exception) -> DataError:
        return DataError(_offline_message(url, exc, how, root))

    log.info("downloading %s -> %s", url, dest)
    request = urllib.request.Request(url, headers={"User-Agent": "gankit"})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError is an OSError
        raise failed(exc) from exc
    with response:
        _copy_atomic(response, dest, accept, failed)


def _idx_file_ok(path: Path, md5: str | None = None, *, src: idx.IdxSource, stem: str) -> bool:
    """The official .gz, or any gzip whose content is the official IDX data."""
    data = path.read_bytes()
    if (md5 or _md5(data)) == src.gz_md5[stem]:
        return True
    try:
        return _md5(gzip.decompress(data)) == src.raw_md5[stem]
    except (OSError, EOFError, zlib.error):
        return False


def _download_idx(name: str, root: Path) -> Path:
    src = idx.SOURCES[name]
    folder = root / src.folder
    base = URLS[name].rstrip("/") + "/"
    for stems in idx.SPLIT_FILES.values():
        for stem in stems:
            dest = folder / f"{stem}.gz"
            if dest.is_file() and _idx_file_ok(dest, src=src, stem=stem):
                continue  # already there and intact
            _fetch(base + dest.name, dest, functools.partial(_idx_file_ok, src=src, stem=stem),
                   f"fetch the four {name} .gz files from {base} on a machine that is "
                   f"online and place them in {folder} (same file names)", root)
    return folder


def _download_cifar(root: Path) -> Path:
    folder = root / cifar.FOLDER
    names = [n for split in cifar.SPLIT_FILES.values() for n in split]
    if all((folder / n).is_file() and (folder / n).stat().st_size == cifar.FILE_BYTES
           for n in names):
        return folder
    url = URLS["cifar10"]
    archive = root / ".cifar-10-binary.tar.gz.download"
    try:
        _fetch(url, archive, lambda tmp, md5: md5 == cifar.ARCHIVE_MD5,
               f"fetch {url} on a machine that is online (see "
               f"https://www.cs.toronto.edu/~kriz/cifar.html) and extract it under {root}, "
               f"giving {folder}", root)
        _extract_cifar(archive, folder, names)
    finally:
        archive.unlink(missing_ok=True)
    return folder


def _extract_cifar(archive: Path, folder: Path, names: list[str]) -> None:
    """Copy out only the expected regular files: no member path is ever trusted."""
    wanted = {f"{cifar.FOLDER}/{n}" for n in names + ["batches.meta.txt"]}
    done: set[str] = set()

    def corrupt(exc: Exception) -> DataError:
        return DataError(f"the downloaded cifar-10-binary.tar.gz is damaged ({exc}); "
                         f"run download('cifar10') again")

    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    stream = tar.extractfile(member)
                    assert stream is not None  # regular files always have a stream
                    _copy_atomic(stream, folder / Path(member.name).name, None, corrupt)
                    done.add(Path(member.name).name)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise corrupt(exc) from exc
    missing = [n for n in names if n not in done]
    if missing:
        raise DataError(f"the downloaded archive lacks {', '.join(missing)}; "
                        f"is {URLS['cifar10']} really cifar-10-binary.tar.gz?")


def download(name: str, root: str | Path | None = None) -> Path:
    """Download dataset ``name`` into the data root; return the folder that holds its files.

    Files already present and intact are kept. Needs network access; offline it
    raises DataError saying where to place the files by hand.
    """
    root_path = resolve_data_root(root)
    if name in idx.SOURCES:
        return _download_idx(name, root_path)
    if name == "cifar10":
        return _download_cifar(root_path)
    raise DataError(f"{name!r} has no files to download; downloadable datasets: "
                    f"{', '.join(URLS)} (digits, ring8 and grid25 are built in; "
                    f"'folder' reads your own images)")
