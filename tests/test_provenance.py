"""Signed provenance: C2PA manifests on generated PNGs, made and checked offline."""

import stat

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from gankit.cli import app
from gankit.errors import GankitError
from gankit.provenance import GENERATED, init_keys, load_signer, sign_png, verify_file
from gankit.viz import image_png

ASSERTION = {"recipe": "dcgan_mnist", "checkpoint_sha256": "ab" * 32, "seed": 3, "step": 5000, "class": 7}


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return init_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def signed(keys, tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "sample.png"
    path.write_bytes(sign_png(image_png(torch.rand(1, 28, 28) * 2 - 1), ASSERTION, load_signer(keys.cert, keys.key)))
    return path


def test_a_local_ca_makes_trusted_signatures_and_the_assertion_round_trips(keys, signed):
    verdict = verify_file(signed, trust=keys.ca_cert)
    assert verdict.state == "Trusted" and not verdict.failures
    assert {k: verdict.assertion[k] for k in ASSERTION} == ASSERTION and "gankit" in verdict.assertion
    assert signed.stat().st_size < 10_000   # no thumbnail: a 28x28 PNG stays small


def test_the_manifest_says_trained_algorithmic_media(signed):
    import c2pa
    with open(signed, "rb") as f:
        manifest = c2pa.Reader("image/png", f).get_active_manifest()
    actions = next(a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"]
    assert actions[0]["action"] == "c2pa.created" and actions[0]["digitalSourceType"] == GENERATED


def test_without_a_trust_list_the_signature_is_valid_but_untrusted(signed, tmp_path):
    assert verify_file(signed).state == "Valid"
    other = init_keys(tmp_path / "other")   # another CA: signature good, signer not trusted
    assert verify_file(signed, trust=other.ca_cert).state == "Valid"


def test_one_flipped_pixel_byte_breaks_the_data_hash(signed, keys, tmp_path):
    data = bytearray(signed.read_bytes())
    at = data.find(b"IDAT") + 10
    data[at] ^= 0x01
    (tmp_path / "flipped.png").write_bytes(bytes(data))
    verdict = verify_file(tmp_path / "flipped.png", trust=keys.ca_cert)
    assert verdict.state == "Invalid" and any("dataHash" in f for f in verdict.failures)
    assert "dataHash" in verdict.line()


def test_re_encoding_strips_the_manifest(signed, tmp_path):
    Image.open(signed).save(tmp_path / "again.png")
    assert verify_file(tmp_path / "again.png").state == "No provenance"


def test_keys_are_private_and_never_overwritten(keys):
    for path in (keys.key, keys.ca_key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = keys.key.read_bytes()
    with pytest.raises(GankitError, match="already exist.*--force"):
        init_keys(keys.folder)
    assert keys.key.read_bytes() == before


def test_a_missing_or_corrupt_key_is_named(keys, tmp_path):
    with pytest.raises(GankitError, match="missing.key does not exist"):
        load_signer(keys.cert, tmp_path / "missing.key")
    (tmp_path / "bad.key").write_text("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    with pytest.raises(GankitError, match="bad.key cannot be read"):
        load_signer(keys.cert, tmp_path / "bad.key")
    (tmp_path / "plain.pem").write_text("hello")
    with pytest.raises(GankitError, match="plain.pem is not a PEM file"):
        load_signer(tmp_path / "plain.pem", keys.key)


def test_sample_sign_and_verify_from_the_cli(keys, tmp_path, monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("GANKIT_KEYS", str(keys.folder))
    result = runner.invoke(app, ["train", "--set", "train.steps=4", "--set", "data.image_size=8", "--set",
                                 "model.g_width=8", "--set", "model.d_width=8", "--out", str(tmp_path / "run"),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["sample", str(tmp_path / "run"), "-n", "6", "--each", str(tmp_path / "each"),
                                 "--sign", "-o", str(tmp_path / "grid.png")])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "signed 7 file(s)" in result.output
    files = [tmp_path / "grid.png", *sorted((tmp_path / "each").glob("*.png"))]
    result = runner.invoke(app, ["verify", *map(str, files), "--trust", str(keys.ca_cert)])
    assert result.exit_code == 0 and result.output.count(": Trusted") == 7, result.output
    assert "recipe quickstart" in result.output and "step 4" in result.output
    data = bytearray(files[1].read_bytes())
    data[data.find(b"IDAT") + 10] ^= 0x01
    files[1].write_bytes(bytes(data))
    result = runner.invoke(app, ["verify", *map(str, files[:2])])
    assert result.exit_code == 1 and "Invalid" in result.output   # any Invalid file: status 1


def test_restore_sign_marks_a_restored_photo_and_names_its_source(keys, tmp_path, monkeypatch):
    from gankit.provenance import RESTORED
    from gankit.provenance.files import file_sha256
    from gankit.restore.corrupt import add_noise
    from gankit.restore.images import save_image
    from gankit.restore.photos import photo
    save_image(add_noise(photo("astronaut", 32), 25 / 255, seed=0, clip=True), tmp_path / "noisy.png")
    monkeypatch.setenv("GANKIT_KEYS", str(keys.folder))
    tiny = ["--set", "channels_down=[8, 8, 8, 8, 8]", "--set", "channels_up=[8, 8, 8, 8, 8]", "--set",
            "channels_skip=[4, 4, 4, 4, 4]", "--set", "input_channels=8", "--iterations", "4", "--device", "cpu",
            "--no-progress", "--recipe", "cpu_denoise"]
    runner = CliRunner()
    refused = runner.invoke(app, ["restore", "denoise", str(tmp_path / "noisy.png"), "-o", str(tmp_path / "out.jpg"),
                                  "--sign", *tiny, "--run", str(tmp_path / "refused")])
    assert refused.exit_code != 0 and "PNG files only" in str(refused.exception)
    assert not (tmp_path / "refused").exists()   # refused before any fitting
    result = runner.invoke(app, ["restore", "denoise", str(tmp_path / "noisy.png"), "-o", str(tmp_path / "out.png"),
                                 "--sign", *tiny, "--run", str(tmp_path / "run")])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "signed 2 file(s)" in result.output
    for name in ("out.png", "out_strip.png"):
        verdict = verify_file(tmp_path / name, trust=keys.ca_cert)
        assert verdict.state == "Trusted", verdict.line()
        assert verdict.assertion["task"] == "denoise" and verdict.assertion["recipe"] == "cpu_denoise"
        assert verdict.assertion["source_sha256"] == file_sha256(tmp_path / "noisy.png")
        assert verdict.assertion["step"] == 4 and verdict.assertion["class"] is None
    import c2pa
    with open(tmp_path / "out.png", "rb") as f:
        manifest = c2pa.Reader("image/png", f).get_active_manifest()
    actions = next(a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"]
    assert actions[0]["digitalSourceType"] == RESTORED
