"""Read and check the C2PA manifest of an image: Trusted, Valid, Invalid (naming the failed check) or No provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gankit.errors import GankitError
from gankit.provenance.sign import ASSERTION_LABEL

UNTRUSTED = "signingCredential.untrusted"
MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".tif": "image/tiff",
        ".tiff": "image/tiff"}


@dataclass
class Verdict:
    path: Path
    state: str                      # Trusted, Valid, Invalid or No provenance
    failures: list[str] = field(default_factory=list)   # the failed checks' codes (Invalid)
    assertion: dict | None = None   # gankit's assertion, when the manifest has one
    signer: str | None = None

    def line(self) -> str:
        text = f"{self.path}: {self.state}"
        if self.failures:
            text += f" ({'; '.join(self.failures)})"
        elif self.state == "Valid":
            text += " (signature good; the signer is not in the trust list: pass --trust CA.pem)"
        return text


def verify_file(path: str | Path, trust: str | Path | None = None) -> Verdict:
    """Check ``path``'s manifest; ``trust``: a PEM file of CA certificates whose signers are Trusted."""
    import c2pa
    path = Path(path)
    mime = MIME.get(path.suffix.lower())
    if mime is None:
        raise GankitError(f"{path}: cannot tell the image format from its extension (known: {', '.join(MIME)})")
    settings: dict = {"verify": {"verify_trust": trust is not None}}
    if trust is not None:
        try:
            settings["trust"] = {"trust_anchors": Path(trust).read_text()}
        except (OSError, UnicodeDecodeError) as exc:
            raise GankitError(f"cannot read the trust list {trust}: {exc}") from None
        if "BEGIN CERTIFICATE" not in settings["trust"]["trust_anchors"]:
            raise GankitError(f"trust list {trust} holds no PEM certificate")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GankitError(f"cannot read {path}: {exc.strerror or exc}") from None
    import io
    try:
        reader = c2pa.Reader(mime, io.BytesIO(data), context=c2pa.Context.from_dict(settings))
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "no JUMBF" in str(exc):
            return Verdict(path, "No provenance")
        return Verdict(path, "Invalid", [f"unreadable manifest: {exc}"])
    state = reader.get_validation_state() or "Invalid"
    results = reader.get_validation_results() or {}
    failures = [f["code"] for f in (results.get("activeManifest") or {}).get("failure", [])]
    if UNTRUSTED in failures:   # a good signature by a signer outside the trust list: Valid, not Trusted
        failures.remove(UNTRUSTED)
        state = "Valid" if not failures else "Invalid"
    manifest = reader.get_active_manifest() or {}
    assertion = next((a.get("data") for a in manifest.get("assertions", []) if a.get("label") == ASSERTION_LABEL),
                     None)
    signer = (manifest.get("signature_info") or {}).get("common_name")
    if failures and state != "Invalid":   # a failed check is never a valid file
        state = "Invalid"
    return Verdict(path, state, failures, assertion, signer)
