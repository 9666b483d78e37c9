"""Embed a C2PA manifest in a PNG: a c2pa.created action (trained algorithmic media) and gankit's assertion."""

from __future__ import annotations

import io
from typing import Any

from gankit import __version__
from gankit.errors import GankitError

SOURCE_TYPES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
GENERATED = SOURCE_TYPES + "trainedAlgorithmicMedia"   # sampled from a trained generator
# A photo restored by an untrained net (Deep Image Prior): captured content with synthesized pixels
# (filled holes, removed noise, added resolution), IPTC's "mix of elements, at least one synthetic".
RESTORED = SOURCE_TYPES + "compositeSynthetic"
ASSERTION_LABEL = "org.gankit.generation"   # recipe, checkpoint SHA-256, seed, step, class, gankit version


def manifest(assertion: dict[str, Any], title: str, source_type: str = GENERATED) -> dict:
    return {"claim_generator_info": [{"name": "gankit", "version": __version__}], "title": title,
            "assertions": [
                {"label": "c2pa.actions", "data": {"actions": [
                    {"action": "c2pa.created", "digitalSourceType": source_type,
                     "softwareAgent": {"name": "gankit", "version": __version__}}]}},
                {"label": ASSERTION_LABEL, "data": {**assertion, "gankit": __version__}}]}


def sign_png(png: bytes, assertion: dict[str, Any], signer, title: str = "generated.png",
             thumbnail: bool = False, source_type: str = GENERATED) -> bytes:
    """``png`` with a signed manifest embedded. ``thumbnail``: off by default (it turns a 1 KB image into 70 KB).
    ``source_type``: IPTC's digital source type of the image (GENERATED or RESTORED)."""
    import c2pa
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": thumbnail}}})
    out = io.BytesIO()
    try:
        builder = c2pa.Builder(manifest(assertion, title, source_type), context=context)
        builder.sign(signer, "image/png", io.BytesIO(png), out)
    except c2pa.C2paError as exc:
        raise GankitError(f"cannot sign {title}: {exc}") from None
    return out.getvalue()
