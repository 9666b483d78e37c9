"""Attacks: invariants across the registry, closed forms on linear models, argument checks."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from gankit.attacks import (APGD, ATTACKS, CW, FGSM, PGD, AttackError, DeepFool, as_classifier, lp_norm,
                            register_attack)
from gankit.attacks.apgd import checkpoints

# fast settings for every registered attack (the invariant tests run them all)
FAST = {"fgsm": {"eps": 0.1}, "pgd": {"eps": 0.1, "steps": 5, "restarts": 2}, "apgd": {"eps": 0.1, "steps": 8},
        "cw": {"steps": 10, "search_steps": 2}, "deepfool": {"steps": 5}}


class TinyCNN(nn.Module):
    """Conv + BatchNorm + dropout: a model whose train/eval modes differ."""

    def __init__(self, classes: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(4 * 6 * 6, classes)

    def forward(self, x):
        return self.fc(self.drop(F.relu(self.bn(self.conv(x))).flatten(1)))


def linear_model(d: int = 12, classes: int = 3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(d, classes))


def batch(n: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 6, 6, generator=g) * 0.8 + 0.1
    return x, torch.randint(0, 4, (n,), generator=g)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TinyCNN()


def test_registry_holds_every_attack_and_refuses_duplicates():
    assert set(FAST) <= set(ATTACKS)
    with pytest.raises(ValueError, match="already registered"):
        register_attack("pgd")(PGD)


@pytest.mark.parametrize("name", sorted(FAST))
def test_output_contract_mode_and_parameters(name, model):
    x, y = batch()
    model.train()
    model.drop.eval()  # a deliberately mixed mode must come back as it was
    model.bn.weight.requires_grad_(False)
    before = copy.deepcopy(model.state_dict())
    attack = ATTACKS[name](seed=1, **FAST[name])
    x_adv = attack(model, x, y)
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype and x_adv.device == x.device
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    if attack.bounded:
        assert (lp_norm(x_adv - x, attack.norm) <= attack.eps + 1e-6).all()
    assert model.training and not model.drop.training and model.bn.training
    assert not model.bn.weight.requires_grad and model.conv.weight.requires_grad
    for key, value in model.state_dict().items():  # BN running stats included: eval mode was used
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    torch.testing.assert_close(attack(model, x, y), x_adv, rtol=0, atol=0)  # same seed, same answer


@pytest.mark.parametrize("norm,eps", [("Linf", 0.05), ("L2", 0.5)])
def test_pgd_and_apgd_stay_in_the_ball_and_box(norm, eps, model):
    x, y = batch(8)
    x[0] = 0.0  # corners of the box: the projection must clip
    x[1] = 1.0
    for attack in (PGD(eps=eps, norm=norm, steps=6, seed=0), APGD(eps=eps, norm=norm, steps=6, seed=0)):
        x_adv = attack(model, x, y)
        assert (lp_norm(x_adv - x, norm) <= eps + 1e-5).all()
        assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_fgsm_matches_its_closed_form_on_a_linear_model():
    model, eps = linear_model(), 0.07
    x = torch.rand(5, 1, 3, 4)
    y = torch.tensor([0, 1, 2, 1, 0])
    weight = model[1].weight  # (classes, d)
    probs = model(x).softmax(1).detach()
    # d CE / d x = W^T (softmax(Wx + b) - onehot(y))
    grad = (probs - F.one_hot(y, 3).float()) @ weight.detach()
    expected = (x + eps * grad.sign().reshape(x.shape)).clamp(0, 1)
    torch.testing.assert_close(FGSM(eps=eps)(model, x, y), expected)
    # targeted: descend the loss of the target class
    t = torch.tensor([1, 2, 0, 0, 1])
    grad_t = (probs - F.one_hot(t, 3).float()) @ weight.detach()
    expected_t = (x - eps * grad_t.sign().reshape(x.shape)).clamp(0, 1)
    torch.testing.assert_close(FGSM(eps=eps)(model, x, y, target=t), expected_t)


def test_deepfool_finds_the_exact_boundary_of_a_linear_binary_model():
    model = linear_model(d=12, classes=2, seed=3)
    with torch.no_grad():
        model[1].weight.mul_(5.0)
    x = torch.full((4, 1, 3, 4), 0.5) + 0.01 * torch.randn(4, 1, 3, 4)
    y = model(x).argmax(1)
    w, b = model[1].weight.detach(), model[1].bias.detach()
    logits = model(x).detach()
    w_diff = w[1] - w[0]
    distance = (logits[:, 1] - logits[:, 0]).abs() / w_diff.norm()  # closest point of the hyperplane
    x_adv = DeepFool(steps=10, overshoot=0.02)(model, x, y)
    assert (model(x_adv).argmax(1) != y).all()
    torch.testing.assert_close(lp_norm(x_adv - x, "L2"), distance * 1.02, rtol=1e-3, atol=1e-3)
    # CW cannot beat the exact minimum, and lands close to it
    x_cw = CW(steps=200, lr=0.01, c=10.0, search_steps=3)(model, x, y)
    fooled = model(x_cw).argmax(1) != y
    assert fooled.all()
    cw_dist = lp_norm(x_cw - x, "L2")
    assert (cw_dist >= distance - 1e-4).all() and (cw_dist <= 1.5 * distance + 1e-2).all()
    assert b is not None


@functools.lru_cache(maxsize=1)
def trained_digits_model():
    """A small MLP fit on scikit-learn's 8x8 digits in a second (inputs in [0, 1])."""
    from gankit.data import load_dataset
    ds = load_dataset("digits", split="train")
    x, y = ds.x.float() / 255, ds.y
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    test = load_dataset("digits", split="test")
    return model.eval(), test.x.float() / 255, test.y


def test_pgd_is_at_least_as_strong_as_fgsm_and_targeted_mode_works():
    model, x, y = trained_digits_model()
    clean = (model(x).argmax(1) == y).float().mean()
    assert clean > 0.85
    for eps in (0.05, 0.1):
        fgsm = (model(FGSM(eps=eps)(model, x, y)).argmax(1) == y).float().mean()
        pgd = (model(PGD(eps=eps, steps=10, seed=0)(model, x, y)).argmax(1) == y).float().mean()
        assert pgd <= fgsm <= clean
    target = (y + 1) % 10
    for attack in (PGD(eps=0.3, steps=20, seed=0), APGD(eps=0.3, steps=20, seed=0),
                   CW(c=10.0, steps=50, lr=0.05, search_steps=1)):
        x_t = attack(model, x[:100], y[:100], target=target[:100])
        assert (model(x_t).argmax(1) == target[:100]).float().mean() > 0.8, attack


def test_keep_adversarial_never_loses_a_success():
    model, x, y = trained_digits_model()
    kept = PGD(eps=0.05, steps=10, seed=3)(model, x, y)
    last = PGD(eps=0.05, steps=10, seed=3, keep_adversarial=False)(model, x, y)
    assert (model(kept).argmax(1) != y).sum() >= (model(last).argmax(1) != y).sum()


def test_y_none_attacks_the_predictions(model):
    x, _ = batch()
    pred = model.eval()(x).argmax(1)
    torch.testing.assert_close(FGSM(eps=0.1)(model, x), FGSM(eps=0.1)(model, x, pred))


def test_apgd_checkpoints_follow_the_paper():
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]


@pytest.mark.parametrize("make,match", [
    (lambda: FGSM(eps=-0.1), "eps must be >= 0"),
    (lambda: PGD(eps=float("nan")), "eps must be a finite"),
    (lambda: PGD(eps=0.3, steps=-1), "steps must be >= 1"),
    (lambda: PGD(eps=0.3, steps=0), "steps must be >= 1"),   # no attack at all: its accuracy is not robust
    (lambda: PGD(eps=0.3, norm="L3"), "norm must be one of"),
    (lambda: CW(c=0.0), "c must be > 0"),
    (lambda: APGD(eps=0.3, restarts=0), "restarts must be >= 1"),
])
def test_bad_hyper_parameters_get_clear_errors(make, match):
    with pytest.raises(AttackError, match=match):
        make()


def test_bad_inputs_get_clear_errors(model):
    x, y = batch()
    attack = FGSM(eps=0.1)
    with pytest.raises(AttackError, match=r"shape \(6,\)"):
        attack(model, x, y[:3])
    with pytest.raises(AttackError, match="has 4 classes"):
        attack(model, x, torch.full((6,), 4))
    with pytest.raises(AttackError, match="has 4 classes"):
        attack(model, x, torch.full((6,), -1))
    with pytest.raises(AttackError, match="integer class indices"):
        attack(model, x, y.float())
    with pytest.raises(AttackError, match="uint8 images"):
        attack(model, (x * 255).to(torch.uint8), y)
    with pytest.raises(AttackError, match="non-empty batch"):
        attack(model, x[0, 0, 0], y)
    with pytest.raises(AttackError, match="target must have shape"):
        attack(model, x, y, target=y[:2])
    with pytest.raises(AttackError, match="no targeted mode"):
        DeepFool(steps=2)(model, x, y, target=y)
    with pytest.raises(AttackError, match="logits of shape"):
        attack(lambda t: t.mean(), x, y)
    with pytest.raises(AttackError):  # a bad call leaves the model as it was
        attack(model.train(), x, y[:2])
    assert model.training and model.conv.weight.requires_grad


def test_inputs_outside_unit_range_draw_a_warning(model):
    x, y = batch()
    with pytest.warns(UserWarning, match=r"\[0, 1\]"):
        x_adv = FGSM(eps=0.1)(model, x * 2 - 1, y)
    assert x_adv.min() >= 0


def test_as_classifier_maps_the_input_range_and_picks_the_logits():
    seen = {}

    class TwoHeads(nn.Module):  # a discriminator-like net: expects [-1, 1], returns (features, logits)
        def forward(self, x):
            seen["range"] = (x.min().item(), x.max().item())
            return x.flatten(1)[:, :3], x.flatten(1)[:, :6]

    wrapped = as_classifier(TwoHeads(), input_range=(-1, 1), output=1, classes=slice(0, 5))
    x = torch.rand(4, 1, 6, 6)
    x[0, 0, 0, 0], x[0, 0, 0, 1] = 0.0, 1.0
    assert wrapped(x).shape == (4, 5)
    assert seen["range"] == (-1.0, 1.0)
    x_adv = PGD(eps=0.1, steps=3, seed=0)(wrapped, x, torch.zeros(4, dtype=torch.long))
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6


@pytest.mark.parametrize("random_start", [False, True])
def test_torchattacks_pgd_walks_the_same_iterates(random_start):
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y = trained_digits_model()
    x, y = x[:64].reshape(-1, 1, 8, 8), y[:64]
    net = nn.Sequential(nn.Flatten(), *list(model)[1:])
    ours = PGD(eps=0.1, alpha=0.01, steps=10, random_start=random_start, keep_adversarial=False, seed=5)
    x_ours = ours(net, x, y)
    torch.manual_seed(5)  # torchattacks draws its random start from the global generator
    x_theirs = torchattacks.PGD(net, eps=0.1, alpha=0.01, steps=10, random_start=random_start)(x, y)
    torch.testing.assert_close(x_ours, x_theirs, rtol=0, atol=1e-5)
    # keeping the first fooling iterate can only add successes
    x_kept = PGD(eps=0.1, alpha=0.01, steps=10, random_start=random_start, seed=5)(net, x, y)
    assert (net(x_kept).argmax(1) != y).sum() >= (net(x_theirs).argmax(1) != y).sum()


def test_robustness_report_rows_and_files(tmp_path):
    from gankit.attacks.report import robustness_report
    model, x, y = trained_digits_model()
    x, y = x[:60].reshape(-1, 1, 8, 8), y[:60]
    net = nn.Sequential(nn.Flatten(), *list(model)[1:])
    report = robustness_report(net, x, y, attacks=["fgsm", "deepfool"], eps=[0.3, 0.0, 0.1],
                               params={"steps": 50}, out=tmp_path, examples=4)
    assert report["eps"] == [0.0, 0.1, 0.3]
    for name in ("fgsm", "deepfool"):
        accs = [report["attacks"][name]["by_eps"][f"{e:g}"]["robust_accuracy"] for e in report["eps"]]
        assert accs[0] == pytest.approx(report["clean_accuracy"])  # eps 0 changes nothing
        assert accs == sorted(accs, reverse=True)
        assert (tmp_path / f"examples_{name}.png").is_file()
    assert report["attacks"]["deepfool"]["overall"]["success_rate"] > 0.9
    assert (tmp_path / "robust_accuracy.png").is_file() and (tmp_path / "report.json").is_file()
    with pytest.raises(AttackError, match="'stpes' is not an argument"):
        robustness_report(net, x, y, attacks=["pgd"], eps=[0.1], params={"stpes": 5})


@settings(max_examples=25, deadline=None)
@given(eps=st.floats(0.0, 1.0), norm=st.sampled_from(["Linf", "L2"]), steps=st.integers(1, 4),
       n=st.integers(1, 5), random_start=st.booleans(), seed=st.integers(0, 2**31))
def test_pgd_projection_holds_for_any_budget(eps, norm, steps, n, random_start, seed):
    model = linear_model(d=12, classes=3)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 3, 4, generator=g).round() * torch.rand(n, 1, 3, 4, generator=g)  # many 0s
    y = torch.randint(0, 3, (n,), generator=g)
    x_adv = PGD(eps=eps, norm=norm, steps=steps, random_start=random_start, seed=seed)(model, x, y)
    assert (lp_norm(x_adv - x, norm) <= eps + 1e-5).all()
    assert x_adv.min() >= 0 and x_adv.max() <= 1
