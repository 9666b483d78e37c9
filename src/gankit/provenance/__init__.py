"""Signed provenance for generated images: C2PA (Content Credentials) manifests through c2pa-python.

    from gankit.provenance import init_keys, load_signer, sign_png, verify_file
    keys = init_keys()                                  # a local CA and a signing certificate, once
    signer = load_signer()                              # the signer made by init_keys (or your own cert/key)
    sign_png(png_bytes, {"recipe": "dcgan_mnist", ...}, signer)   # the PNG with its manifest embedded
    verify_file("sample.png", trust=keys.ca_cert)       # Trusted / Valid / Invalid / No provenance

A manifest says which tool made an image and breaks when the pixels change. Re-encoding an image
(saving it again, a screenshot, most uploads) strips the manifest: provenance proves origin where it
is present; its absence proves nothing.
"""

from gankit.provenance.keys import KeyPaths, default_key_dir, init_keys, load_signer
from gankit.provenance.sign import ASSERTION_LABEL, GENERATED, RESTORED, sign_png
from gankit.provenance.verify import Verdict, verify_file

__all__ = ["ASSERTION_LABEL", "GENERATED", "KeyPaths", "RESTORED", "Verdict", "default_key_dir", "init_keys",
           "load_signer", "sign_png", "verify_file"]
