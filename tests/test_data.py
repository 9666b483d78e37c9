"""Tests for gankit.data: real MNIST/Fashion files, hand-written CIFAR/IDX files, folders, toys."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from gankit.data import (
    DATASETS,
    Dataset,
    download,
    load_dataset,
    resolve_data_root,
    toy_modes,
    toy_std,
)
from gankit.data.idx import IMAGES_MAGIC, parse_idx
from gankit.errors import DataError, GankitError

# `gankit.data.download` is the function; the module behind it is gankit.data.fetch.
fetch = importlib.import_module("gankit.data.fetch")
cifar = importlib.import_module("gankit.data.cifar")

IDX_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
UNREACHABLE = "http://127.0.0.1:9/"  # the discard port: refused at once, no network needed


def idx_bytes(arr: np.ndarray, magic: int | None = None) -> bytes:
    """Encode a uint8 array in IDX format (magic 0x08nn, big-endian dims)."""
    magic = 0x0800 + arr.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_gz(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, compresslevel=1))
    return path


def copy_split(src_root: Path, dest_root: Path, name: str = "mnist", split: str = "t10k") -> Path:
    folder = dest_root / name
    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("images-idx3", "labels-idx1"):
        f = f"{split}-{kind}-ubyte.gz"
        shutil.copy(src_root / name / f, folder / f)
    return folder


# ---------------------------------------------------------------- real MNIST / Fashion

@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("split,count", [("train", 60000), ("test", 10000)])
def test_real_idx_datasets(real_data_root, name, split, count):
    ds = load_dataset(name, root=real_data_root, split=split)
    assert len(ds) == count and ds.x.shape == (count, 1, 28, 28)
    assert ds.x.dtype == torch.uint8 and ds.y.dtype == torch.int64
    assert ds.is_image and ds.sample_shape == (1, 28, 28) and ds.num_classes == 10
    assert ds.y.min() == 0 and ds.y.max() == 9 and len(ds.y.unique()) == 10
    assert ds.x.max() == 255 and ds.x.min() == 0
    assert ds.class_names is not None and len(ds.class_names) == 10
    xb, yb = ds.batch(torch.arange(256))
    assert xb.dtype == torch.float32 and xb.shape == (256, 1, 28, 28)
    assert xb.min() == -1.0 and xb.max() == 1.0
    assert torch.equal(yb, ds.y[:256])
    if name == "mnist":  # well known: train starts 5 0 4 1 9, test starts 7 2 1 0 4
        assert ds.y[:5].tolist() == ([5, 0, 4, 1, 9] if split == "train" else [7, 2, 1, 0, 4])


def test_resize_channels_and_subset(real_data_root):
    ds = load_dataset("mnist", root=real_data_root, split="test", image_size=32, channels=3,
                      n=500, seed=1)
    assert ds.x.shape == (500, 3, 32, 32) and ds.x.dtype == torch.uint8
    assert torch.equal(ds.x[:, 0], ds.x[:, 2])  # grey repeated
    again = load_dataset("mnist", root=real_data_root, split="test", image_size=32, channels=3,
                         n=500, seed=1)
    assert torch.equal(ds.x, again.x) and torch.equal(ds.y, again.y)
    with pytest.raises(DataError, match="only 10000"):
        load_dataset("mnist", root=real_data_root, split="test", n=10001)
    with pytest.raises(DataError, match="channels"):
        load_dataset("mnist", root=real_data_root, split="test", channels=2)


def test_uncompressed_idx_files_are_accepted(real_data_root, tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for stem in IDX_NAMES[2:]:
        packed = (real_data_root / "mnist" / f"{stem}.gz").read_bytes()
        (folder / stem).write_bytes(gzip.decompress(packed))
    assert len(load_dataset("mnist", root=tmp_path, split="test")) == 10000


# ---------------------------------------------------------------- IDX errors

def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError) as info:
        load_dataset("mnist", root=tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "mnist" / "train-images-idx3-ubyte.gz") in msg
    assert "ossci-datasets" in msg and "gankit download mnist" in msg and "GANKIT_DATA" in msg


def test_only_the_missing_file_is_named(real_data_root, tmp_path):
    folder = copy_split(real_data_root, tmp_path, "fashion-mnist")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as info:
        load_dataset("fashion-mnist", root=tmp_path, split="test")
    assert str(folder / "t10k-labels-idx1-ubyte.gz") in str(info.value)
    assert "t10k-images" not in str(info.value)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_gzip_names_the_file(real_data_root, tmp_path, damage):
    folder = copy_split(real_data_root, tmp_path)
    target = folder / "t10k-images-idx3-ubyte.gz"
    data = bytearray(target.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF  # caught by zlib or by the gzip CRC
    target.write_bytes(bytes(data))
    with pytest.raises(DataError, match="corrupt") as info:
        load_dataset("mnist", root=tmp_path, split="test")
    assert str(target) in str(info.value)


def test_checksum_mismatch(real_data_root, tmp_path):
    folder = copy_split(real_data_root, tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    write_gz(labels, idx_bytes(np.zeros(10000, np.uint8)))  # well-formed, wrong content
    with pytest.raises(DataError, match="checksum mismatch") as info:
        load_dataset("mnist", root=tmp_path, split="test")
    assert str(labels) in str(info.value)


def test_wrong_magic(real_data_root, tmp_path):
    folder = copy_split(real_data_root, tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    write_gz(labels, idx_bytes(np.zeros(10000, np.uint8), magic=IMAGES_MAGIC))
    with pytest.raises(DataError, match="wrong magic number 2051") as info:
        load_dataset("mnist", root=tmp_path, split="test")
    assert str(labels) in str(info.value)


def test_header_payload_size_mismatch(tmp_path):
    images = write_gz(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz",
                      idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-5])
    write_gz(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(DataError, match="truncated") as info:
        load_dataset("mnist", root=tmp_path, split="test")
    assert str(images) in str(info.value)


def test_image_label_count_mismatch(tmp_path):
    folder = tmp_path / "mnist"
    write_gz(folder / "t10k-images-idx3-ubyte.gz", idx_bytes(np.zeros((5, 28, 28), np.uint8)))
    write_gz(folder / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros(6, np.uint8)))
    with pytest.raises(DataError, match="5 images but .*6 labels"):
        load_dataset("mnist", root=tmp_path, split="test")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_parse_idx_round_trip(shape, rnd):
    values = [rnd.randrange(256) for _ in range(int(np.prod(shape)))]
    arr = np.array(values, np.uint8).reshape(shape)
    magic = 0x0800 + len(shape)
    assert np.array_equal(parse_idx(idx_bytes(arr), Path("x"), magic), arr)
    with pytest.raises(DataError):
        parse_idx(idx_bytes(arr) + b"\0", Path("x"), magic)


# ---------------------------------------------------------------- CIFAR-10 binary

def cifar_records(first: int, count: int) -> np.ndarray:
    """Records first..first+count-1: label g % 10, pixel (c, h, w) = (7g + 85c + 3h + w) mod 256."""
    c, h, w = np.meshgrid(np.arange(3), np.arange(32), np.arange(32), indexing="ij")
    base = ((85 * c + 3 * h + w) % 256).astype(np.uint8).reshape(-1)  # R plane, G, B; rows
    g = np.arange(first, first + count)
    rec = np.empty((count, 3073), np.uint8)
    rec[:, 0] = g % 10
    rec[:, 1:] = base[None, :] + ((7 * g) % 256).astype(np.uint8)[:, None]  # uint8 wraps
    return rec


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> Path:
    """The six official-size batch files (10000 records each), written once for the module."""
    root = tmp_path_factory.mktemp("cifar")
    folder = root / "cifar-10-batches-bin"
    folder.mkdir()
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for i, name in enumerate(names):
        cifar_records(i * 10000, 10000).tofile(folder / name)
    return root


def test_cifar_decoding(cifar_root):
    test = load_dataset("cifar10", root=cifar_root, split="test")
    assert test.x.shape == (10000, 3, 32, 32) and test.x.dtype == torch.uint8
    assert test.class_names[:2] == ["airplane", "automobile"] and test.num_classes == 10
    raw = (cifar_root / "cifar-10-batches-bin" / "test_batch.bin").read_bytes()
    for r in (0, 1, 4321, 9999):
        rec = raw[r * 3073 : (r + 1) * 3073]
        assert test.y[r] == rec[0]
        assert test.x[r, 0, 0, 0] == rec[1]  # first red byte: row 0, col 0
        assert test.x[r, 0, 0, 1] == rec[2]  # next byte: same row, next column
        assert test.x[r, 0, 1, 0] == rec[1 + 32]  # row-major: row 1 starts after 32 bytes
        assert test.x[r, 1, 0, 0] == rec[1 + 1024]  # green plane
        assert test.x[r, 2, 31, 31] == rec[3072]  # last blue byte
    train = load_dataset("cifar10", root=cifar_root)
    assert len(train) == 50000
    assert torch.equal(train.y, torch.arange(50000) % 10)
    assert torch.equal(train.x[12345].flatten(), torch.from_numpy(cifar_records(12345, 1)[0, 1:]))


def test_cifar_nested_layout_and_grey(cifar_root, tmp_path):
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-batches-bin").symlink_to(cifar_root / "cifar-10-batches-bin")
    ds = load_dataset("cifar10", root=tmp_path, split="test", channels=1, image_size=16, n=10)
    assert ds.x.shape == (10, 1, 16, 16)


def test_cifar_wrong_size_and_bad_label(cifar_root, tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    good = (cifar_root / "cifar-10-batches-bin" / "test_batch.bin").read_bytes()
    (folder / "test_batch.bin").write_bytes(good[:-1])
    with pytest.raises(DataError, match="30730000 bytes") as info:
        load_dataset("cifar10", root=tmp_path, split="test")
    assert str(folder / "test_batch.bin") in str(info.value)
    (folder / "test_batch.bin").write_bytes(b"\x63" + good[1:])  # label 99
    with pytest.raises(DataError, match="label byte 99"):
        load_dataset("cifar10", root=tmp_path, split="test")


def test_cifar_missing(tmp_path):
    with pytest.raises(DataError) as info:
        load_dataset("cifar10", root=tmp_path, split="test")
    msg = str(info.value)
    assert "cifar-10-binary.tar.gz" in msg and "https://www.cs.toronto.edu/~kriz/cifar.html" in msg
    assert str(tmp_path / "cifar-10-batches-bin" / "test_batch.bin") in msg


# ---------------------------------------------------------------- image folders

def make_image(path: Path, size: tuple[int, int], mode: str, value: int = 128) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    color = {"L": value, "RGB": (value, 0, 255), "RGBA": (value, 10, 20, 100), "P": value}[mode]
    Image.new(mode, size, color).save(path)


def test_folder_with_classes(tmp_path):
    make_image(tmp_path / "dogs" / "a.png", (40, 30), "RGB")
    make_image(tmp_path / "dogs" / "b.JPG", (20, 50), "L")
    make_image(tmp_path / "cats" / "c.png", (33, 33), "RGBA")
    make_image(tmp_path / "cats" / "deeper" / "d.gif", (12, 9), "P")
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    (tmp_path / "cats" / ".hidden.png").write_bytes(b"junk")  # hidden files are skipped
    (tmp_path / "empty_class").mkdir()
    ds = load_dataset("folder", path=tmp_path, image_size=16)
    assert ds.x.shape == (4, 3, 16, 16) and ds.x.dtype == torch.uint8
    assert ds.class_names == ["cats", "dogs"] and ds.num_classes == 2
    assert ds.y.tolist() == [0, 0, 1, 1]
    assert ds.x[2, :, 8, 8].tolist() == [128, 0, 255]  # dogs/a.png, a flat RGB colour
    grey = load_dataset("folder", path=tmp_path, image_size=8, channels=1)
    assert grey.x.shape == (4, 1, 8, 8)
    assert len(load_dataset("folder", path=tmp_path, image_size=8, n=2)) == 2


def test_folder_center_crop(tmp_path):
    img = np.zeros((10, 30), np.uint8)
    img[:, 10:20] = 255  # only the central square is white
    Image.fromarray(img).save(tmp_path / "wide.png")
    ds = load_dataset("folder", path=tmp_path, image_size=10, channels=1)
    assert ds.y is None and ds.num_classes == 0 and ds.class_names is None
    assert ds.x.shape == (1, 1, 10, 10) and int(ds.x.min()) == 255


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="path"):
        load_dataset("folder")
    with pytest.raises(DataError, match="no images"):
        load_dataset("folder", path=tmp_path)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError) as info:
        load_dataset("folder", path=tmp_path)
    assert str(bad) in str(info.value)


def test_image_files_named_or_in_folders(tmp_path):
    from gankit.data.folder import image_files
    make_image(tmp_path / "flat" / "b.png", (8, 8), "L")
    make_image(tmp_path / "flat" / "a.jpg", (8, 8), "L")
    make_image(tmp_path / "flat" / "sub" / "c.png", (8, 8), "L")
    (tmp_path / "flat" / "notes.txt").write_text("not an image")
    single = tmp_path / "single.png"
    make_image(single, (8, 8), "L")
    flat = tmp_path / "flat"
    assert [p.name for p in image_files([single, flat])] == ["single.png", "a.jpg", "b.png"]   # in order, sorted
    assert [p.name for p in image_files([flat], recursive=True)] == ["a.jpg", "b.png", "c.png"]
    with pytest.raises(DataError, match="nowhere.png does not exist"):
        image_files([tmp_path / "nowhere.png"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no images in this folder"):
        image_files([tmp_path / "empty"])


# ---------------------------------------------------------------- digits and toys

def test_digits():
    train, test = load_dataset("digits"), load_dataset("digits", split="test")
    assert train.x.shape == (1500, 1, 8, 8) and len(test) == 297
    assert train.x.dtype == torch.uint8 and train.x.min() == 0 and train.x.max() == 255
    assert train.num_classes == 10 and len(train.y.unique()) == 10
    assert torch.equal(train.x, load_dataset("digits", seed=5).x)  # the split ignores seed
    assert load_dataset("digits", split="test", image_size=32).x.shape == (297, 1, 32, 32)


def test_digits_fast_path_matches_sklearn(monkeypatch):
    digits = importlib.import_module("gankit.data.digits")
    fast = load_dataset("digits", split="test")
    monkeypatch.setattr(digits, "_digits_csv", lambda: None)  # force sklearn's load_digits
    slow = load_dataset("digits", split="test")
    assert torch.equal(fast.x, slow.x) and torch.equal(fast.y, slow.y)


@pytest.mark.parametrize("name,modes,std", [("ring8", 8, 0.02), ("grid25", 25, 0.05)])
def test_toys(name, modes, std):
    centres = toy_modes(name)
    assert centres.shape == (modes, 2) and toy_std(name) == std
    ds = load_dataset(name, n=10_000, seed=3)
    assert ds.x.shape == (10_000, 2) and ds.x.dtype == torch.float32 and not ds.is_image
    assert ds.num_classes == modes and len(ds.y.unique()) == modes
    offset = ds.x - centres[ds.y]
    assert offset.abs().max() < 5 * std
    assert abs(offset.std().item() - std) < 0.05 * std
    assert torch.equal(ds.x, load_dataset(name, n=10_000, seed=3).x)
    assert not torch.equal(ds.x, load_dataset(name, n=10_000, seed=4).x)
    assert not torch.equal(ds.x, load_dataset(name, n=10_000, seed=3, split="test").x)
    assert len(load_dataset(name, split="test")) == 10_000
    xb, yb = ds.batch(torch.tensor([0, 1]))
    assert torch.equal(xb, ds.x[:2]) and torch.equal(yb, ds.y[:2])


def test_toy_geometry():
    assert torch.allclose(toy_modes("ring8").norm(dim=1), torch.full((8,), 2.0))
    assert set(toy_modes("grid25").flatten().tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    assert len(load_dataset("ring8")) == 100_000
    with pytest.raises(DataError, match="2-D points"):
        load_dataset("ring8", image_size=32)


# ---------------------------------------------------------------- Dataset, registry, root

def test_dataset_methods():
    ds = Dataset(x=torch.arange(24, dtype=torch.uint8).view(6, 1, 2, 2), y=torch.arange(6),
                 num_classes=6, name="t")
    sub = ds.subset([4, 1])
    assert len(sub) == 2 and sub.y.tolist() == [4, 1] and sub.x[0, 0, 0, 0] == 16
    assert len(ds.subset(np.array([True, False] * 3))) == 3 and len(ds.subset(2)) == 1
    moved = ds.to("cpu")
    assert moved is not ds and torch.equal(moved.x, ds.x)
    assert "n=6" in repr(ds) and len(repr(load_dataset("ring8", n=1000))) < 300
    unlabeled = Dataset(x=torch.zeros(3, 2), y=None, num_classes=0, name="p")
    assert unlabeled.batch(torch.tensor([0]))[1] is None and unlabeled.sample_shape == (2,)


def test_unknown_name_and_split():
    with pytest.raises(DataError) as info:
        load_dataset("imagenet")
    for name in DATASETS:
        assert name in str(info.value)
    assert issubclass(DataError, GankitError)
    with pytest.raises(DataError, match="split"):
        load_dataset("digits", split="valid")


def test_resolve_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_root() == tmp_path / "env"
    monkeypatch.delenv("GANKIT_DATA")
    assert resolve_data_root() == tmp_path / "xdg" / "gankit" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_root() == tmp_path / "home" / ".cache" / "gankit" / "data"


# ---------------------------------------------------------------- download

@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10"])
def test_download_offline_fails_clearly(monkeypatch, tmp_path, name):
    monkeypatch.setitem(fetch.URLS, name, UNREACHABLE + ("x.tar.gz" if name == "cifar10" else ""))
    with pytest.raises(DataError, match="download of http://127.0.0.1:9/.* failed") as info:
        download(name, root=tmp_path)
    assert "offline" in str(info.value) and str(tmp_path) in str(info.value)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no partial files left


def test_download_from_file_url_and_skip(monkeypatch, real_data_root, tmp_path):
    # file:// exercises the whole path (stream, checksum, atomic rename) with no network.
    monkeypatch.setitem(fetch.URLS, "mnist", (real_data_root / "mnist").as_uri())
    folder = download("mnist", root=tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.gz" for n in IDX_NAMES)
    assert len(load_dataset("mnist", root=tmp_path, split="test")) == 10000
    monkeypatch.setitem(fetch.URLS, "mnist", UNREACHABLE)
    assert download("mnist", root=tmp_path) == folder  # intact files: nothing fetched
    with pytest.raises(DataError, match="no files to download"):
        download("digits", root=tmp_path)


def test_download_rejects_wrong_checksum(monkeypatch, tmp_path):
    src = tmp_path / "src"
    for stem in IDX_NAMES:
        write_gz(src / f"{stem}.gz", b"not mnist")
    monkeypatch.setitem(fetch.URLS, "mnist", src.as_uri())
    with pytest.raises(DataError, match="checksum mismatch"):
        download("mnist", root=tmp_path / "root")
    assert not (tmp_path / "root" / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_cifar_extraction_is_filtered(monkeypatch, tmp_path):
    archive = tmp_path / "cifar.tar.gz"
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    with tarfile.open(archive, "w:gz") as tar:
        for member, data in [(f"cifar-10-batches-bin/{n}", n.encode()) for n in names] + [
            ("../escape.bin", b"evil"), ("cifar-10-batches-bin/../../escape2.bin", b"evil"),
            ("/tmp/absolute.bin", b"evil"), ("cifar-10-batches-bin/extra.py", b"evil"),
        ]:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    monkeypatch.setitem(fetch.URLS, "cifar10", archive.as_uri())
    root = tmp_path / "root"
    folder = download("cifar10", root=root)
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    assert (folder / "test_batch.bin").read_bytes() == b"test_batch.bin"
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-batches-bin"]  # archive removed
    assert not (tmp_path / "escape.bin").exists() and not (tmp_path / "escape2.bin").exists()
