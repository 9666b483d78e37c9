"""What `gankit restore` reads: the mask convention (white = keep) and the files it refuses or converts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.errors import DataError
from gankit.restore import BASELINES, inpainting, read_image, read_mask, run_baseline, super_resolution
from gankit.restore.corrupt import add_noise, low_resolution, make_mask
from gankit.restore.images import save_image
from gankit.restore.metrics import psnr
from gankit.restore.photos import photo


def write(path, array, mode=None):
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


def test_white_is_kept_and_black_is_filled_in(tmp_path):
    mask = np.full((32, 40), 255, np.uint8)
    mask[8:16, 10:30] = 0                       # a black box: to fill in
    mask[20, 5] = 100                           # darker than half: to fill in
    mask[21, 5] = 200                           # lighter than half: kept
    keep = read_mask(write(tmp_path / "mask.png", mask), (32, 40))
    assert keep.shape == (1, 32, 40) and keep.dtype == torch.float32
    assert keep[0, 8:16, 10:30].sum() == 0 and keep[0, 20, 5] == 0 and keep[0, 21, 5] == 1
    assert keep.sum() == 32 * 40 - 8 * 20 - 1
    photo_ = torch.rand(3, 32, 40)
    problem = inpainting(photo_, keep)
    # the fit sees the kept pixels only: what lies under the black box has no weight
    assert torch.equal(problem.weight[:, :32, :40], keep)
    other = photo_.clone()
    other[:, 8:16, 10:30] = 1.0
    assert torch.equal(inpainting(other, keep).observed, problem.observed)
    # and the classical inpainters leave the kept pixels as they were
    out, _ = run_baseline("inpaint", "biharmonic", photo_ * keep, mask=keep)
    torch.testing.assert_close(out * keep, photo_ * keep, atol=1e-6, rtol=0)


def test_an_rgb_mask_and_an_opaque_rgba_mask_are_read_by_their_colour(tmp_path):
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[:, :8] = 255
    assert read_mask(write(tmp_path / "rgb.png", rgb), (16, 16))[0, :, :8].min() == 1
    rgba = np.dstack([rgb, np.full((16, 16), 255, np.uint8)])
    assert read_mask(write(tmp_path / "rgba.png", rgba, "RGBA"), (16, 16))[0, :, 8:].max() == 0


def test_a_mask_of_another_size_is_refused_naming_both_sizes(tmp_path):
    path = write(tmp_path / "mask.png", np.full((30, 40), 255, np.uint8))
    with pytest.raises(DataError, match=r"mask .*mask.png: 40x30 pixels, but photo.png is 48x32"):
        read_mask(path, (32, 48), "photo.png")


def test_an_all_black_or_all_white_mask_is_refused(tmp_path):
    with pytest.raises(DataError, match="all black, so no pixel is kept"):
        read_mask(write(tmp_path / "black.png", np.zeros((16, 16), np.uint8)), (16, 16))
    with pytest.raises(DataError, match="all white, so every pixel is kept"):
        read_mask(write(tmp_path / "white.png", np.full((16, 16), 255, np.uint8)), (16, 16))
    with pytest.raises(DataError, match="must keep some pixels"):
        inpainting(torch.rand(3, 16, 16), torch.zeros(1, 16, 16))


def test_a_file_that_is_not_an_image_is_named(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(DataError, match=r"image .*notes.png: not an image file that can be read"):
        read_image(text)
    with pytest.raises(DataError, match=r"mask .*missing.png: no such file"):
        read_mask(tmp_path / "missing.png", (8, 8))
    tiny = write(tmp_path / "tiny.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError, match="4x4 pixels is too small"):
        read_image(tiny)


def test_16_bit_images_are_scaled_by_1_over_65535(tmp_path):
    values = np.linspace(0, 65535, 16 * 16).reshape(16, 16).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    x = read_image(path)
    assert x.shape == (1, 16, 16) and x.dtype == torch.float32
    torch.testing.assert_close(x[0], torch.from_numpy(values / 65535.0).float())


def test_rgba_is_flattened_when_opaque_and_refused_when_transparent(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    opaque = write(tmp_path / "opaque.png", np.dstack([rgb, np.full((16, 16), 255, np.uint8)]), "RGBA")
    torch.testing.assert_close(read_image(opaque), torch.from_numpy(rgb / 255.0).float().permute(2, 0, 1))
    alpha = np.full((16, 16), 255, np.uint8)
    alpha[:4] = 0
    see_through = write(tmp_path / "see_through.png", np.dstack([rgb, alpha]), "RGBA")
    with pytest.raises(DataError, match=r"has transparent pixels \(25%\); flatten it"):
        read_image(see_through)


def test_gray_and_palette_images(tmp_path):
    gray = write(tmp_path / "gray.png", np.full((16, 16), 51, np.uint8))
    assert read_image(gray).shape == (1, 16, 16) and read_image(gray).max().item() == pytest.approx(0.2)
    palette = Image.fromarray(np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)).convert("P")
    palette.save(tmp_path / "palette.png")
    assert read_image(tmp_path / "palette.png").shape == (3, 16, 16)


def test_a_reference_that_does_not_fit_the_restoration_is_refused():
    with pytest.raises(DataError, match="--reference clean.png: 32x32 pixels, but the restored image will be 64x64"):
        super_resolution(torch.rand(3, 16, 16), 4, torch.rand(3, 32, 32), "clean.png")
    with pytest.raises(DataError, match="a gray image, but the input is colour"):
        inpainting(torch.rand(3, 16, 16), make_mask("pixels50", 16, 16), torch.rand(1, 16, 16), "clean.png")
    with pytest.raises(DataError, match="--scale must be an integer from 2 to 16"):
        super_resolution(torch.rand(3, 16, 16), 1)


def test_images_round_trip_through_8_bit_png(tmp_path):
    x = photo("chelsea", 32)
    save_image(x, tmp_path / "x.png")
    assert (read_image(tmp_path / "x.png") - x).abs().max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("task", ["inpaint", "denoise", "superres"])
@pytest.mark.parametrize("name", ["astronaut", "camera"])   # colour and gray
def test_every_baseline_runs_and_restores(task, name):
    clean = photo(name, 64)
    if task == "inpaint":
        mask = make_mask("text", 64, 64)
        given, extra, shown = clean * mask, {"mask": mask}, clean * mask
    elif task == "denoise":
        given = add_noise(clean, 25 / 255, seed=0)
        extra, shown = {"sigma": 25 / 255}, given
    else:
        given, extra = low_resolution(clean, 4), {"scale": 4}
        shown = torch.nn.functional.interpolate(given[None], scale_factor=4, mode="nearest")[0]
    assert len(BASELINES[task]) >= 2
    for name in BASELINES[task]:
        out, seconds = run_baseline(task, name, given, **extra)
        assert out.shape == clean.shape and 0 <= out.min() and out.max() <= 1 and seconds >= 0
        assert psnr(out, clean) > psnr(shown, clean) + 1, name
