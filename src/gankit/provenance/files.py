"""Writing generated images, signed or not, and what their manifests say about where they came from."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from gankit.checkpoint import atomic_write_bytes
from gankit.provenance.sign import GENERATED


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def generation_assertion(recipe: str, checkpoint: Path, seed: int, step: int, class_asked: int | None) -> dict:
    """gankit's assertion: which recipe and checkpoint (SHA-256 of its tensors) made the image, how."""
    tensors = Path(checkpoint).with_suffix(".safetensors")
    return {"recipe": recipe, "checkpoint": Path(checkpoint).name, "checkpoint_sha256": file_sha256(tensors),
            "seed": seed, "step": step, "class": class_asked}


@dataclass
class ImageWriter:
    """Writes PNGs atomically; with a signer, each carries a C2PA manifest. Keeps the signing cost."""

    signer: object | None = None
    assertion: dict = field(default_factory=dict)
    source_type: str = GENERATED
    files: int = 0
    plain_bytes: int = 0
    written_bytes: int = 0
    signing_seconds: float = 0.0

    def write(self, path: Path, png: bytes, **extra) -> Path:
        data = png
        if self.signer is not None:
            from gankit.provenance.sign import sign_png
            start = time.perf_counter()
            data = sign_png(png, {**self.assertion, **extra}, self.signer, title=Path(path).name,
                            source_type=self.source_type)
            self.signing_seconds += time.perf_counter() - start
        atomic_write_bytes(Path(path), data)
        self.files += 1
        self.plain_bytes += len(png)
        self.written_bytes += len(data)
        return Path(path)

    def overhead(self) -> str:
        """One line on what signing cost: time per file and the size it added."""
        if self.signer is None or not self.files:
            return ""
        extra = self.written_bytes - self.plain_bytes
        return (f"signed {self.files} file(s) in {self.signing_seconds:.2f} s ({1000 * self.signing_seconds / self.files:.0f} "
                f"ms each); manifests added {extra / self.files / 1024:.1f} KiB per file "
                f"({self.plain_bytes / 1024:.0f} KiB of images became {self.written_bytes / 1024:.0f} KiB)")
