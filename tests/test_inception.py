"""The FID Inception-v3: architecture, forward pass, weight files and their errors.

The real pytorch-fid weights cannot be downloaded here, so these tests use random
weights; they check the network's layout (names, shapes, parameter count, feature-map
sizes), the loaders and the error messages, not agreement with published features.
"""

import pytest
import torch
from safetensors.torch import save_file

from gankit.errors import GankitError
from gankit.metrics.backbones import extract as backbones_extract
from gankit.metrics.backbones import load_backbone
from gankit.metrics.inception import (ENV_VAR, NUM_PARAMETERS, SAFETENSORS_NAME, WEIGHTS_NAME, WEIGHTS_URL,
                                      InceptionV3FID, convert_inception_weights, extract,
                                      find_inception_weights, load_inception)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: these few big convolutions run no slower, and far better on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def random_state():
    """A state dict of the network with random weights AND random BatchNorm statistics."""
    torch.manual_seed(0)
    state = InceptionV3FID().state_dict()
    for key, value in state.items():
        if key.endswith("running_mean"):
            value.normal_(0, 0.1)
        elif key.endswith("running_var"):
            value.uniform_(0.5, 1.5)
    return state


@pytest.fixture(scope="module")
def pth_file(random_state, tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / WEIGHTS_NAME
    torch.save(random_state, path)  # what pytorch-fid's file is: a pickled state dict
    return path


@pytest.fixture(autouse=True)
def no_env(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "data"))


def test_architecture_matches_the_fid_inception(random_state):
    net = InceptionV3FID()
    # torchvision's inception_v3: 27,161,264 parameters with AuxLogits (3,326,696) and a
    # 1000-way fc; FID's has no AuxLogits and a 1008-way fc (+ 8 * 2048 + 8).
    assert sum(p.numel() for p in net.parameters()) == NUM_PARAMETERS == 27_161_264 - 3_326_696 + 16_392
    shapes = {k: tuple(v.shape) for k, v in random_state.items()}
    assert len(shapes) == 94 * 6 + 2  # 94 conv+BN layers (weight + 5 BN entries each), fc weight and bias
    assert shapes["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
    assert shapes["Conv2d_4a_3x3.conv.weight"] == (192, 80, 3, 3)
    assert shapes["Mixed_5b.branch_pool.conv.weight"] == (32, 192, 1, 1)
    assert shapes["Mixed_5b.branch5x5_2.conv.weight"] == (64, 48, 5, 5)
    assert shapes["Mixed_6a.branch3x3.conv.weight"] == (384, 288, 3, 3)
    assert shapes["Mixed_6b.branch7x7_2.conv.weight"] == (128, 128, 1, 7)
    assert shapes["Mixed_6e.branch7x7dbl_4.conv.weight"] == (192, 192, 7, 1)
    assert shapes["Mixed_7a.branch3x3_2.conv.weight"] == (320, 192, 3, 3)
    assert shapes["Mixed_7b.branch1x1.conv.weight"] == (320, 1280, 1, 1)
    assert shapes["Mixed_7c.branch3x3dbl_3b.conv.weight"] == (384, 384, 3, 1)
    assert shapes["Mixed_7c.branch_pool.conv.weight"] == (192, 2048, 1, 1)
    assert shapes["Mixed_7c.branch_pool.bn.running_var"] == (192,)
    assert shapes["fc.weight"] == (1008, 2048) and shapes["fc.bias"] == (1008,)
    assert not any(k.startswith("AuxLogits") or k.endswith("conv.bias") for k in shapes)
    assert {m.eps for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)} == {0.001}
    assert not net.Mixed_7b.max_pool and net.Mixed_7c.max_pool


def test_forward_gives_pool3_features_and_probabilities(random_state):
    net = InceptionV3FID().eval()
    net.load_state_dict(random_state)
    sizes = {}
    for name in ("Mixed_5d", "Mixed_6e", "Mixed_7c"):
        getattr(net, name).register_forward_hook(lambda m, i, o, name=name: sizes.update({name: tuple(o.shape)}))
    with torch.no_grad():
        feats = net.features(torch.rand(2, 3, 32, 32) * 2 - 1)  # resized to 299x299 inside
        probs = net.head(feats).softmax(1)
    assert sizes == {"Mixed_5d": (2, 288, 35, 35), "Mixed_6e": (2, 768, 17, 17), "Mixed_7c": (2, 2048, 8, 8)}
    assert feats.shape == (2, 2048) and (feats >= 0).all()  # mean of ReLU outputs
    assert probs.shape == (2, 1008)
    torch.testing.assert_close(probs.sum(1), torch.ones(2))
    torch.testing.assert_close(net.head(feats), feats @ net.fc.weight.T)  # IS logits leave the bias out


def test_pth_and_safetensors_load_strictly_and_agree(pth_file, random_state, tmp_path):
    from_pth = load_inception(pth_file)
    assert not from_pth.training and not any(p.requires_grad for p in from_pth.parameters())
    st = convert_inception_weights(pth_file, tmp_path / SAFETENSORS_NAME)
    from_st = load_inception(st)
    got_pth, got_st = from_pth.state_dict(), from_st.state_dict()
    for key, value in random_state.items():
        assert torch.equal(got_pth[key], value) and torch.equal(got_st[key], value)
    # 75x75 is the smallest input the network takes: a cheap pass that uses every layer
    x = torch.rand(1, 3, 75, 75) * 2 - 1
    with torch.no_grad():
        out_pth, out_st = from_pth.pool3(x), from_st.pool3(x)
    assert out_pth.shape == (1, 2048)
    torch.testing.assert_close(out_pth, out_st, rtol=1e-5, atol=1e-6)  # bit-equal weights; kernels may differ
    # a folder stands for the file inside it; load_backbone("inception") is the same loader
    assert isinstance(load_backbone("inception", weights_dir=pth_file.parent), InceptionV3FID)


def test_extract_scales_and_repeats_channels_like_pytorch_fid():
    """uint8 x -> x / 127.5 - 1 (pytorch-fid: x / 255, then 2x - 1), [0, 1] -> 2x - 1, grey -> RGB."""
    net = InceptionV3FID().eval()
    seen = []
    net.pool3 = lambda x: seen.append(x) or x.flatten(1)[:, :2048]  # stand-in: look at the network input
    grey = torch.randint(0, 256, (2, 1, 30, 30), dtype=torch.uint8)
    unit = grey.float().div(255).expand(-1, 3, -1, -1)
    f8, p8 = extract(net, grey)
    f01, _ = extract(net, unit, value_range=(0, 1))
    f11, _ = extract(net, unit * 2 - 1)
    assert f8.shape == (2, 2048) and p8.shape == (2, 1008)
    torch.testing.assert_close(f8, f01)
    torch.testing.assert_close(f8, f11)
    assert seen[0].shape == (2, 3, 299, 299)
    reference = torch.nn.functional.interpolate(unit, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
    torch.testing.assert_close(seen[0], reference)
    # the generic extract (what gankit.evaluate calls) resizes with antialiasing: the same when upsampling
    f_generic, p_generic = backbones_extract(net, grey)
    torch.testing.assert_close(f_generic, f8, rtol=0, atol=1e-5)
    assert p_generic.shape == (2, 1008)


def test_files_without_batchnorm_counters_load(random_state, tmp_path):
    """Old PyTorch versions wrote no num_batches_tracked; they carry no information in eval mode."""
    path = tmp_path / "old.safetensors"
    save_file({k: v for k, v in random_state.items() if not k.endswith("num_batches_tracked")}, path)
    net = load_inception(path)
    assert torch.equal(net.fc.weight, random_state["fc.weight"])


def test_missing_file_names_the_paths_tried_and_the_url(tmp_path, monkeypatch):
    with pytest.raises(GankitError) as info:
        load_inception()
    msg = str(info.value)
    folder = tmp_path / "data" / "inception"
    assert WEIGHTS_URL in msg and str(folder / WEIGHTS_NAME) in msg and str(folder / SAFETENSORS_NAME) in msg
    assert "6726825d" in msg and ENV_VAR in msg
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere.pth"))
    with pytest.raises(GankitError, match=r"\$GANKIT_INCEPTION.*nowhere\.pth"):
        load_inception()
    with pytest.raises(GankitError, match=r"the path argument.*elsewhere\.pth"):
        load_inception(tmp_path / "elsewhere.pth")


def test_path_resolution_order(tmp_path, monkeypatch):
    default = tmp_path / "data" / "inception" / SAFETENSORS_NAME
    default.parent.mkdir(parents=True)
    default.touch()
    assert find_inception_weights() == default
    env_file = tmp_path / "env.pth"
    env_file.touch()
    monkeypatch.setenv(ENV_VAR, str(env_file))
    assert find_inception_weights() == env_file
    explicit = tmp_path / "explicit.safetensors"
    explicit.touch()
    assert find_inception_weights(explicit) == explicit


def test_a_missing_key_is_named(random_state, tmp_path):
    path = tmp_path / "cut.pth"
    torch.save({k: v for k, v in random_state.items() if k != "Mixed_6c.branch7x7dbl_3.bn.running_var"}, path)
    with pytest.raises(GankitError, match=r"missing keys \(1\): Mixed_6c\.branch7x7dbl_3\.bn\.running_var"):
        load_inception(path)


def test_torchvision_style_weights_are_recognised(random_state, tmp_path):
    state = dict(random_state, **{"fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000),
                                  "AuxLogits.fc.weight": torch.zeros(1000, 768)})
    path = tmp_path / "inception_v3_google.safetensors"
    save_file(state, path)
    with pytest.raises(GankitError) as info:
        load_inception(path)
    msg = str(info.value)
    assert "AuxLogits.fc.weight" in msg and "torchvision" in msg
    assert "fc.weight (1000, 2048) (expected (1008, 2048))" in msg


def test_unreadable_files_are_reported(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a weights file")
    with pytest.raises(GankitError, match=r"cannot read Inception weights .*junk\.pth"):
        load_inception(junk)
    module = tmp_path / "module.pth"
    torch.save(torch.nn.Linear(2, 2), module)  # a pickled object, not a state dict: never rebuilt
    with pytest.raises(GankitError, match=r"module\.pth: it holds Python objects other than tensors"):
        load_inception(module)
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(GankitError, match=r"does not hold a state dict"):
        load_inception(listed)


def test_extract_checks_the_value_range():
    with torch.device("meta"):  # the checks come before any computation
        net = InceptionV3FID()
    with pytest.raises(ValueError, match="value_range"):
        extract(net, torch.rand(1, 3, 8, 8), value_range=(0, 255))
    with pytest.raises(ValueError, match=r"in value_range=\(0, 1\)"):
        extract(net, torch.rand(1, 3, 8, 8) * 2 - 1, value_range=(0, 1))
    with pytest.raises(ValueError, match=r"\(N, 1 or 3, H, W\)"):
        net.features(torch.rand(1, 2, 8, 8))


def test_unknown_dataset_points_to_the_inception_backbone():
    with pytest.raises(GankitError, match=r"load_backbone\('inception'\)"):
        load_backbone("cifar10")
