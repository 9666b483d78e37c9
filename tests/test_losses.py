"""Each objective against values computed by hand (see the comments)."""

import math

import pytest
import torch
from torch.testing import assert_close

from gankit import losses

T = lambda *v: torch.tensor(v, dtype=torch.float64)  # noqa: E731


def test_minimax_discriminator_matches_log_probabilities():
    # D = sigmoid(f): -[log sigmoid(2) + log(1 - sigmoid(-1))] = ln(1+e^-2) + ln(1+e^-1)
    expected = math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))
    assert_close(losses.d_minimax(T(2.0), T(-1.0)), T(expected)[0])
    # at f = 0 both terms are ln 2
    assert_close(losses.d_minimax(T(0.0, 0.0), T(0.0)), T(2 * math.log(2))[0])


def test_saturating_and_nonsaturating_generator_losses():
    d = 1 / (1 + math.exp(1))  # sigmoid(-1)
    assert_close(losses.g_minimax(T(-1.0)), T(math.log(1 - d))[0])       # log(1 - D(G(z)))
    assert_close(losses.g_nonsaturating(T(-1.0)), T(-math.log(d))[0])    # -log D(G(z))


def test_minimax_saturates_where_nonsaturating_does_not():
    # When D confidently rejects fakes (f = -10) the minimax gradient vanishes.
    f = T(-10.0).requires_grad_()
    losses.g_minimax(f).backward()
    assert abs(f.grad.item()) < 1e-4
    f = T(-10.0).requires_grad_()
    losses.g_nonsaturating(f).backward()
    assert f.grad.item() == pytest.approx(-1.0, abs=1e-4)


def test_least_squares():
    # D: 0.5 * (mean((2-1)^2, (0-1)^2) + mean(1^2, (-1)^2)) = 0.5 * (1 + 1)
    assert_close(losses.d_least_squares(T(2.0, 0.0), T(1.0, -1.0)), T(1.0)[0])
    assert_close(losses.g_least_squares(T(3.0)), T(2.0)[0])  # 0.5 * (3 - 1)^2


def test_wasserstein_and_hinge():
    assert_close(losses.d_wasserstein(T(1.0, 3.0), T(0.5)), T(-1.5)[0])   # 0.5 - 2
    assert_close(losses.g_wasserstein(T(0.5, 1.5)), T(-1.0)[0])
    # mean(relu(1-0.5), relu(1-2)) + mean(relu(1-2), relu(1+0)) = 0.25 + 0.5
    assert_close(losses.d_hinge(T(0.5, 2.0), T(-2.0, 0.0)), T(0.75)[0])
    assert_close(losses.g_hinge(T(0.5, 1.5)), T(-1.0)[0])


def test_gradient_penalty_on_a_linear_critic():
    # f(x) = w . x has gradient w everywhere: penalty (|w| - 1)^2
    real, fake = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    for w, expected in ((T(1.2, 1.6), 1.0), (T(0.6, 0.8), 0.0)):   # |w| = 2 and 1
        gp = losses.gradient_penalty(lambda x: x @ w, real, fake)
        assert_close(gp, T(expected)[0])


def test_gradient_penalty_is_differentiable_in_critic_weights():
    w = T(1.2, 1.6).requires_grad_()
    real, fake = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    losses.gradient_penalty(lambda x: x @ w, real, fake).backward()
    # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w| = 2 * 1 * w / 2 = w
    assert_close(w.grad, w.detach())


def test_r1_penalty():
    x = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)
    w = T(3.0, 4.0)
    assert_close(losses.r1_penalty(x @ w, x), T(25.0)[0])    # |w|^2
    # quadratic critic f(x) = sum x^2: gradient 2x, penalty mean(4 |x|^2)
    assert_close(losses.r1_penalty(x.pow(2).sum(1), x), (4 * x.detach().pow(2).sum(1)).mean())


def test_auxiliary_classifier_loss_is_cross_entropy():
    logits = T(2.0, 0.0).view(1, 2)
    expected = -math.log(math.exp(2) / (math.exp(2) + 1))
    assert losses.auxiliary_classifier_loss(logits, torch.tensor([0])).item() == pytest.approx(expected)


def test_registry_holds_each_objective_once():
    assert {"minimax", "nonsat", "lsgan", "wgan", "hinge"} <= set(losses.OBJECTIVES)
    with pytest.raises(KeyError, match="already registered"):
        losses.register_objective("hinge", losses.d_hinge, losses.g_hinge, "dup")
