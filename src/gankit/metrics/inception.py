"""The Inception-v3 network of FID (Heusel et al. 2017), loaded from a weights file you download once.

FID, KID, precision/recall and the Inception Score of natural images (CIFAR-10,
image folders) are defined on one particular network: the TensorFlow Inception-v3
graph of 2015-12-05 (``inception-2015-12-05.tgz``) that Salimans et al. 2016 used
for the Inception Score and Heusel et al. 2017 for FID. pytorch-fid (Seitzer)
ported its weights to PyTorch as ``pt_inception-2015-12-05-6726825d.pth``; this
module rebuilds the network in plain PyTorch (no torchvision) so that file loads
into it with ``load_state_dict(strict=True)``.

The 2015 graph differs from the textbook / torchvision Inception-v3 in ways that
change the features, and this module follows the graph (as pytorch-fid and
torch-fidelity do):

* the classifier has 1008 outputs, not 1000 (the 2015 graph's label map);
* BatchNorm uses eps = 0.001;
* the average pools inside the A, C and first E blocks ignore the zero padding
  (TensorFlow's ``AvgPool`` with SAME padding), i.e. ``count_include_pad=False``;
* the pooling branch of the last block (Mixed_7c) is a 3x3 MAX pool, stride 1.

Input: images in [-1, 1] (gankit's convention, also what the network was trained
on), any size, 1 or 3 channels; they are resized to 299x299 with bilinear
interpolation (``align_corners=False``, as pytorch-fid does) and grey images are
repeated to three channels. Output: the 2048-d ``pool3`` features (the FID
features) and 1008-way class probabilities for the Inception Score.

    >>> from gankit.metrics.inception import load_inception, extract
    >>> net = load_inception()                       # $GANKIT_INCEPTION or <data root>/inception/
    >>> feats, probs = extract(net, images)          # (N, 2048), (N, 1008)

What is and is not verified: the architecture, the parameter names and shapes and
the loading code are tested here; the real weights could not be downloaded on the
machine this was written on, so agreement of the features with pytorch-fid's on
real data has NOT been checked against the released file. See docs/inception.md.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save
from torch import Tensor, nn

from gankit.checkpoint import atomic_write_bytes
from gankit.data.root import resolve_data_root
from gankit.errors import GankitError

__all__ = ["InceptionV3FID", "WEIGHTS_NAME", "SAFETENSORS_NAME", "WEIGHTS_URL", "ENV_VAR", "NUM_PARAMETERS",
           "convert_inception_weights", "extract", "find_inception_weights", "load_inception"]

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
SAFETENSORS_NAME = WEIGHTS_NAME[:-len(".pth")] + ".safetensors"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_NAME}"
# torch.hub's naming convention: the hex digits after the last dash are the start of the
# file's SHA-256. pytorch-fid does not check it and we could not either (no download here).
SHA256_PREFIX = "6726825d"
ENV_VAR = "GANKIT_INCEPTION"
INPUT_SIZE = 299
#: parameters of the FID Inception-v3: torchvision's inception_v3 has 27,161,264 with its
#: auxiliary classifier and a 1000-way fc; less AuxLogits (3,326,696) plus 8 more fc rows
#: (8 * 2048 + 8 = 16,392) gives 23,850,960.
NUM_PARAMETERS = 23_850_960

# State-dict key layout (torchvision's Inception3 names, which the pytorch-fid and
# torch-fidelity files use):
#   <layer>.conv.weight                               conv kernel, no bias
#   <layer>.bn.{weight,bias,running_mean,running_var,num_batches_tracked}
# for the stem layers Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3, Conv2d_3b_1x1, Conv2d_4a_3x3
# and for every branch layer Mixed_<5b..7c>.<branch>, e.g. Mixed_5b.branch5x5_1,
# Mixed_6b.branch7x7dbl_4, Mixed_7c.branch3x3dbl_3b; then fc.weight (1008, 2048), fc.bias (1008).
# No AuxLogits.* (pytorch-fid builds the network with aux_logits=False). Pools have no parameters.


class ConvBN(nn.Module):
    """conv (no bias) -> BatchNorm (eps 0.001) -> ReLU: every weight layer of Inception-v3."""

    def __init__(self, c_in: int, c_out: int, kernel: int | tuple[int, int],
                 stride: int = 1, padding: int | tuple[int, int] = 0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _chain(x: Tensor, *layers: nn.Module) -> Tensor:
    for layer in layers:
        x = layer(x)
    return x


def _avg_pool_same(x: Tensor) -> Tensor:
    """3x3 stride-1 average over the pixels inside the image only (TensorFlow SAME padding)."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _max_pool_same(x: Tensor) -> Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


def _max_pool_reduce(x: Tensor) -> Tensor:
    """3x3 stride-2 max pool without padding: the grid-size reductions (35 -> 17, 17 -> 8)."""
    return F.max_pool2d(x, kernel_size=3, stride=2)


class MixedA(nn.Module):
    """35x35 block (Mixed_5b/5c/5d), 224 + ``pool_features`` channels out:
    1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1."""

    def __init__(self, c_in: int, pool_features: int):
        super().__init__()
        self.branch1x1 = ConvBN(c_in, 64, 1)
        self.branch5x5_1 = ConvBN(c_in, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(c_in, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(c_in, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch1x1(x),
            _chain(x, self.branch5x5_1, self.branch5x5_2),
            _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
            self.branch_pool(_avg_pool_same(x)),
        ], dim=1)


class MixedB(nn.Module):
    """Grid reduction 35x35 -> 17x17 (Mixed_6a), 384 + 96 + ``c_in`` channels out:
    3x3 stride 2 | 1x1 -> 3x3 -> 3x3 stride 2 | max pool stride 2."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3 = ConvBN(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(c_in, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch3x3(x),
            _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
            _max_pool_reduce(x),
        ], dim=1)


class MixedC(nn.Module):
    """17x17 block with factorized 7x7 convolutions (Mixed_6b..6e), 768 channels out:
    1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7 | avg pool -> 1x1."""

    def __init__(self, c_in: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        self.branch1x1 = ConvBN(c_in, 192, 1)
        self.branch7x7_1 = ConvBN(c_in, c7, 1)
        self.branch7x7_2 = ConvBN(c7, c7, **row)
        self.branch7x7_3 = ConvBN(c7, 192, **col)
        self.branch7x7dbl_1 = ConvBN(c_in, c7, 1)
        self.branch7x7dbl_2 = ConvBN(c7, c7, **col)
        self.branch7x7dbl_3 = ConvBN(c7, c7, **row)
        self.branch7x7dbl_4 = ConvBN(c7, c7, **col)
        self.branch7x7dbl_5 = ConvBN(c7, 192, **row)
        self.branch_pool = ConvBN(c_in, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch1x1(x),
            _chain(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3),
            _chain(x, self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                   self.branch7x7dbl_4, self.branch7x7dbl_5),
            self.branch_pool(_avg_pool_same(x)),
        ], dim=1)


class MixedD(nn.Module):
    """Grid reduction 17x17 -> 8x8 (Mixed_7a), 320 + 192 + ``c_in`` channels out:
    1x1 -> 3x3 stride 2 | 1x1 -> 1x7 -> 7x1 -> 3x3 stride 2 | max pool stride 2."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3_1 = ConvBN(c_in, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(c_in, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            _chain(x, self.branch3x3_1, self.branch3x3_2),
            _chain(x, self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4),
            _max_pool_reduce(x),
        ], dim=1)


class MixedE(nn.Module):
    """8x8 block with expanded 1x3 / 3x1 outputs (Mixed_7b, Mixed_7c), 2048 channels out:
    1x1 | 1x1 -> (1x3, 3x1) | 1x1 -> 3x3 -> (1x3, 3x1) | pool -> 1x1.

    ``max_pool``: the 2015 graph pools with a 3x3 max in Mixed_7c, where the paper and
    torchvision average (pytorch-fid calls it "likely an error"; FID is defined with it).
    """

    def __init__(self, c_in: int, max_pool: bool):
        super().__init__()
        row, col = dict(kernel=(1, 3), padding=(0, 1)), dict(kernel=(3, 1), padding=(1, 0))
        self.max_pool = max_pool
        self.branch1x1 = ConvBN(c_in, 320, 1)
        self.branch3x3_1 = ConvBN(c_in, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, **row)
        self.branch3x3_2b = ConvBN(384, 384, **col)
        self.branch3x3dbl_1 = ConvBN(c_in, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, **row)
        self.branch3x3dbl_3b = ConvBN(384, 384, **col)
        self.branch_pool = ConvBN(c_in, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        a = self.branch3x3_1(x)
        b = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = _max_pool_same(x) if self.max_pool else _avg_pool_same(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(a), self.branch3x3_2b(a),
            self.branch3x3dbl_3a(b), self.branch3x3dbl_3b(b),
            self.branch_pool(pooled),
        ], dim=1)


class InceptionV3FID(nn.Module):
    """Inception-v3 as in the 2015-12-05 TensorFlow graph used by FID and the Inception Score.

    Sizes for a 299x299 input: stem 3 -> 32 (149) -> 32 (147) -> 64 (147) -> max pool (73)
    -> 80 (73) -> 192 (71) -> max pool (35); Mixed_5b/5c/5d 256/288/288 (35); Mixed_6a
    768 (17); Mixed_6b..6e 768 (17); Mixed_7a 1280 (8); Mixed_7b/7c 2048 (8); global
    average pool -> 2048 features (``pool3``); fc -> 1008 logits.

    It has the interface of gankit's domain classifiers (``features``, ``head``,
    ``feature_dim``, ``num_classes``), so ``gankit.metrics.backbones.extract`` works on
    it. ``features`` runs at most ``chunk_size`` images at a time (a 299x299 image
    needs about 16 MB of activations in the stem), whatever batch the caller passes.
    """

    feature_dim = 2048
    num_classes = 1008
    # gankit.metrics.backbones.extract resizes to ``image_size`` with antialiasing before
    # calling ``features``. Upsampling (CIFAR-10's 32 -> 299) is then the same as pytorch-fid's
    # plain bilinear resize (to ~2e-6); shrinking larger images is not. This module's
    # extract() resizes exactly as pytorch-fid does.
    image_size = INPUT_SIZE

    def __init__(self, chunk_size: int = 64):
        super().__init__()
        self.chunk_size = chunk_size
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = MixedA(192, pool_features=32)
        self.Mixed_5c = MixedA(256, pool_features=64)
        self.Mixed_5d = MixedA(288, pool_features=64)
        self.Mixed_6a = MixedB(288)
        self.Mixed_6b = MixedC(768, channels_7x7=128)
        self.Mixed_6c = MixedC(768, channels_7x7=160)
        self.Mixed_6d = MixedC(768, channels_7x7=160)
        self.Mixed_6e = MixedC(768, channels_7x7=192)
        self.Mixed_7a = MixedD(768)
        self.Mixed_7b = MixedE(1280, max_pool=False)
        self.Mixed_7c = MixedE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def pool3(self, x: Tensor) -> Tensor:
        """The 2048 pool3 features of images already in [-1, 1], 3 channels, 299x299."""
        x = _chain(x, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = _chain(x, self.Conv2d_3b_1x1, self.Conv2d_4a_3x3)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = _chain(x, self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                   self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c)
        return x.mean(dim=(2, 3))

    def prepare(self, x: Tensor) -> Tensor:
        """(N, 1 or 3, H, W) in [-1, 1] -> (N, 3, 299, 299) float on the model's device."""
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"expected images of shape (N, 1 or 3, H, W), got {tuple(x.shape)}")
        x = x.to(self.fc.weight.device, torch.float32)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if tuple(x.shape[2:]) != (INPUT_SIZE, INPUT_SIZE):
            # pytorch-fid resizes [0, 1] images and then maps them to [-1, 1]; both steps are
            # affine per pixel, so resizing [-1, 1] images gives the same result.
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return x

    def features(self, x: Tensor) -> Tensor:
        """pool3 features (N, 2048) of images in [-1, 1], any size, 1 or 3 channels."""
        out = [self.pool3(self.prepare(x[i:i + self.chunk_size])) for i in range(0, len(x), self.chunk_size)]
        return torch.cat(out) if out else x.new_empty(0, self.feature_dim)

    def head(self, feats: Tensor) -> Tensor:
        """Logits (N, 1008) for the Inception Score: ``feats @ fc.weight.T``, WITHOUT the bias.

        The reference Inception Score code (Salimans et al. 2016, openai/improved-gan)
        multiplies pool3 by the weight of the graph's softmax layer and leaves the bias out;
        torch-fidelity does the same ("logits_unbiased"). ``self.fc(feats)`` gives the
        classifier's biased logits.
        """
        return feats @ self.fc.weight.T

    def forward(self, x: Tensor) -> Tensor:
        """Inception-Score logits (N, 1008) of images in [-1, 1] (see :meth:`head`)."""
        return self.head(self.features(x))

    def probs(self, x: Tensor) -> Tensor:
        """Class probabilities (N, 1008) for the Inception Score."""
        return self.forward(x).softmax(dim=1)


# --- finding and reading the weights file ---------------------------------------------

def _in_folder(p: Path) -> list[Path]:
    """A folder stands for the weights file inside it (.pth or its .safetensors copy)."""
    return [p / WEIGHTS_NAME, p / SAFETENSORS_NAME] if p.is_dir() else [p]


def find_inception_weights(path: str | Path | None = None, data_root: str | Path | None = None) -> Path:
    """The weights file to load: ``path``, else ``$GANKIT_INCEPTION``, else ``<data root>/inception/``.

    ``path`` and the variable may name the file or a folder holding it. The first of the
    three that is given is the only one looked at (a wrong explicit path is an error, not
    a reason to load some other file). Raises GankitError naming every path tried and
    where to download the file.
    """
    if path is not None and str(path) != "":
        source, tried = "the path argument", _in_folder(Path(path).expanduser())
    elif os.environ.get(ENV_VAR, ""):
        source, tried = f"${ENV_VAR}", _in_folder(Path(os.environ[ENV_VAR]).expanduser())
    else:
        folder = resolve_data_root(data_root) / "inception"
        source, tried = "the data root (--data-root / $GANKIT_DATA / the cache)", [folder / WEIGHTS_NAME,
                                                                                  folder / SAFETENSORS_NAME]
    for p in tried:
        if p.is_file():
            return p
    default = resolve_data_root(data_root) / "inception" / WEIGHTS_NAME
    raise GankitError(
        f"Inception-v3 FID weights not found; looked at (from {source}): {', '.join(map(str, tried))}. "
        f"Natural-image metrics need pytorch-fid's port of the 2015 TensorFlow Inception-v3, which "
        f"gankit cannot ship: download {WEIGHTS_URL} (about 95 MB) and save it as {default}, or point "
        f"${ENV_VAR} (or the path argument) at the file. By the torch.hub naming convention its "
        f"SHA-256 should begin with {SHA256_PREFIX}; check with `sha256sum {WEIGHTS_NAME}`.")


def _read_tensors(path: Path) -> dict[str, Tensor]:
    """The tensors of a .safetensors file or of a .pth state dict, never running pickled code."""
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            # A .pth file is a pickle. weights_only=True selects torch's restricted
            # unpickler, which rebuilds only tensors and plain containers (dict, list,
            # OrderedDict, numbers, strings) and refuses any other class or function, so
            # a tampered file cannot run code while it is read. The file comes from a
            # third party; convert_inception_weights() turns it into a .safetensors copy.
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, zip errors, safetensors header errors, OSError
        if isinstance(exc, pickle.UnpicklingError):  # torch's own text offers the unsafe way round
            first = ("it holds Python objects other than tensors (e.g. a whole pickled model), which the "
                     "restricted loader refuses to rebuild")
        else:
            first = f"{type(exc).__name__}: " + (str(exc).strip().splitlines() or [""])[0][:300]
        raise GankitError(f"cannot read Inception weights {path}: {first}. Is it "
                          f"{WEIGHTS_NAME} from {WEIGHTS_URL} (or a .safetensors copy of it)?") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v)
                                              for k, v in state.items()):
        raise GankitError(f"{path} does not hold a state dict (a mapping of names to tensors); "
                          f"expected {WEIGHTS_NAME} from {WEIGHTS_URL}")
    return dict(state)


def _few(names: list[str], k: int = 5) -> str:
    return ", ".join(names[:k]) + (f" and {len(names) - k} more" if len(names) > k else "")


def _checked_state(model: InceptionV3FID, state: dict[str, Tensor], path: Path) -> dict[str, Tensor]:
    """``state`` ready for a strict load into ``model``, or a GankitError saying what is wrong."""
    want = model.state_dict()
    state = dict(state)
    # BatchNorm step counters are bookkeeping for training (unused in eval mode); files
    # written by old PyTorch versions lack them.
    for key in want:
        if key.endswith(".num_batches_tracked") and key not in state:
            state[key] = torch.zeros((), dtype=torch.long)
    missing = sorted(k for k in want if k not in state)
    unexpected = sorted(k for k in state if k not in want)
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(want[k].shape)})"
             for k in want if k in state and state[k].shape != want[k].shape]
    problems = []
    if missing:
        problems.append(f"missing keys ({len(missing)}): {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {_few(unexpected)}")
    if wrong:
        problems.append(f"wrong shapes ({len(wrong)}): {_few(wrong)}")
    if problems:
        hint = (" (AuxLogits and a 1000-way fc mean torchvision's ImageNet Inception-v3, which is a "
                "different network with different weights)" if any(k.startswith("AuxLogits.") for k in unexpected)
                else "")
        raise GankitError(f"{path} is not the FID Inception-v3 state dict{hint}: {'; '.join(problems)}. "
                          f"Expected {WEIGHTS_NAME} from {WEIGHTS_URL}.")
    # float32 like the network (a float64 or float16 copy of the file still loads)
    return {k: v if k.endswith(".num_batches_tracked") else v.float() for k, v in state.items()}


def load_inception(path: str | Path | None = None, device: str | torch.device = "cpu", *,
                   data_root: str | Path | None = None) -> InceptionV3FID:
    """The FID Inception-v3 with the weights of ``path`` (see :func:`find_inception_weights`), eval mode, no grad.

    path: the ``.pth`` file of pytorch-fid, a ``.safetensors`` file with the same keys
    (:func:`convert_inception_weights`), or a folder holding one of them.
    """
    file = find_inception_weights(path, data_root)
    with torch.device("meta"):  # shapes only: every tensor comes from the file, so skip the random init
        model = InceptionV3FID()
    model.load_state_dict(_checked_state(model, _read_tensors(file), file), strict=True, assign=True)
    model.eval().requires_grad_(False)
    return model.to(device)


def convert_inception_weights(pth: str | Path, out_safetensors: str | Path | None = None) -> Path:
    """Write a .safetensors copy of the .pth weights (checked against the network first); returns its path.

    Default output: the same name with the suffix ``.safetensors``, next to the input.
    Loading the copy needs no unpickling at all.
    """
    src = Path(pth).expanduser()
    if not src.is_file():
        raise GankitError(f"{src} does not exist; download {WEIGHTS_URL}")
    out = Path(out_safetensors).expanduser() if out_safetensors is not None else src.with_suffix(".safetensors")
    if out.suffix != ".safetensors":
        raise GankitError(f"out_safetensors must end in .safetensors, got {out}")
    with torch.device("meta"):
        reference = InceptionV3FID()
    state = _checked_state(reference, _read_tensors(src), src)
    tensors = {k: v.contiguous() for k, v in state.items()}
    atomic_write_bytes(out, save(tensors, metadata={"source": src.name, "network": "inception-v3-fid"}))
    return out


@torch.no_grad()
def extract(model: InceptionV3FID, images: Tensor, batch_size: int = 200,
            value_range: tuple[float, float] = (-1.0, 1.0)) -> tuple[Tensor, Tensor]:
    """pool3 features (N, 2048) and Inception-Score probabilities (N, 1008) of ``images``.

    images: (N, 1 or 3, H, W), uint8 in [0, 255] or float in ``value_range``: (-1, 1)
    (gankit's convention, a generator's tanh output) or (0, 1), on any device; they move
    to the model's device ``batch_size`` at a time and the results stay there. The return
    convention of :func:`gankit.metrics.backbones.extract`; the resize to 299x299 is
    pytorch-fid's (bilinear, no antialiasing), also for images larger than 299.
    """
    if not torch.is_tensor(images):
        raise TypeError(f"images must be a tensor, got {type(images).__name__}")
    low, high = (float(v) for v in value_range)
    if (low, high) not in ((-1.0, 1.0), (0.0, 1.0)):
        raise ValueError(f"value_range must be (-1, 1) or (0, 1), got {value_range}")
    if images.dtype == torch.uint8:
        low, high = 0.0, 255.0
    elif not images.is_floating_point():
        raise ValueError(f"images must be uint8 or float, got dtype {images.dtype}")
    elif images.numel() and not (torch.isfinite(images).all() and images.min() >= low - 0.01
                                 and images.max() <= high + 0.01):
        raise ValueError(f"images must be finite and in value_range=({low:g}, {high:g}); got values in "
                         f"[{images.min().item():.3g}, {images.max().item():.3g}]")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    was_training = model.training
    model.eval()
    feats, probs = [], []
    try:
        for start in range(0, len(images), batch_size):
            x = images[start:start + batch_size].to(model.fc.weight.device, torch.float32)
            f = model.features((x - low) * (2.0 / (high - low)) - 1.0)  # -> [-1, 1]
            feats.append(f)
            probs.append(model.head(f).softmax(dim=1))
    finally:
        model.train(was_training)
    if not feats:
        device = model.fc.weight.device
        return torch.empty(0, model.feature_dim, device=device), torch.empty(0, model.num_classes, device=device)
    return torch.cat(feats), torch.cat(probs)
