"""Unit tests for gankit.semisup: the loss, weight-norm init, the labeled split, EMA, files and the CLI."""

import math

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from gankit.cli import app
from gankit.errors import ConfigError, DataError, GankitError
from gankit.semisup import (Classifier, Generator, WNLinear, balanced_labeled_indices,
                            class_balance_loss, conditional_entropy, consistency_loss, data_dependent_init,
                            feature_matching_loss, load_classifier, load_semisup_config, mean_prediction, predict,
                            running_balance_loss, save_classifier, unlabeled_loss)
from gankit.semisup.data import validation_indices
from gankit.semisup.mistakes import confusion_matrix, save_mistakes
from gankit.semisup.game import collapse_warning, vanishing_class_warning


def test_unlabeled_loss_matches_a_hand_computed_value():
    real = torch.tensor([[0.0, math.log(3.0)]])     # Z = 1 + 3 = 4: D(x) = 4/5
    fake = torch.tensor([[math.log(0.5), math.log(0.5)]])  # Z = 1: D(G(z)) = 1/2
    expected = 0.5 * -math.log(4 / 5) + 0.5 * -math.log(1 - 1 / 2)
    assert unlabeled_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)


def test_unlabeled_loss_is_stable_for_extreme_logits():
    real = torch.tensor([[200.0, -200.0], [-200.0, -200.0]])
    fake = torch.tensor([[200.0, 0.0], [-200.0, -200.0]])
    loss = unlabeled_loss(real, fake)
    # real: ~0 for the confident row, ~200 - log 2 for the other; fake: ~200 and ~0
    expected = 0.5 * (0 + 200 - math.log(2)) / 2 + 0.5 * (200 + 0) / 2
    assert torch.isfinite(loss) and loss.item() == pytest.approx(expected, rel=1e-4)


def test_feature_matching_is_zero_for_equal_means_and_mean_squared_otherwise():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert feature_matching_loss(a, a.flip(0)).item() == 0
    assert feature_matching_loss(a, a + torch.tensor([1.0, 3.0])).item() == pytest.approx((1 + 9) / 2)


def test_conditional_entropy_is_log_k_when_undecided_and_zero_when_sure():
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [50.0, 0.0, 0.0, 0.0]])
    assert conditional_entropy(logits[:1]).item() == pytest.approx(math.log(4))
    assert conditional_entropy(logits[1:]).item() == pytest.approx(0.0, abs=1e-12)
    assert conditional_entropy(logits).item() == pytest.approx(math.log(4) / 2)
    # a stack of copies gets one value per copy
    assert conditional_entropy(torch.stack([logits[:1], logits[1:]])).shape == (2,)


def test_consistency_is_zero_for_equal_predictions_and_the_squared_distance_otherwise():
    a = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])   # predictions (1/2, 1/2) and (3/4, 1/4)
    assert consistency_loss(a, a + 5.0).item() == pytest.approx(0.0, abs=1e-7)  # same softmax
    b = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])
    assert consistency_loss(a, b).item() == pytest.approx(2 * (0.25 ** 2 + 0.25 ** 2) / 2)
    assert consistency_loss(torch.stack([a, b]), torch.stack([b, b])).shape == (2,)  # one per copy


def test_class_balance_is_zero_when_the_batch_spreads_evenly_and_log_k_when_one_class_takes_it_all():
    def balance(logits):
        return class_balance_loss(mean_prediction(logits))

    sure = torch.eye(4) * 60.0                    # four images, each sure of a different class
    assert balance(sure).item() == pytest.approx(0.0, abs=1e-6)
    assert balance(torch.zeros(3, 4)).item() == pytest.approx(0.0, abs=1e-6)  # undecided: balanced too
    one_class = torch.tensor([[60.0, 0.0, 0.0, 0.0]]).expand(5, 4)
    assert balance(one_class).item() == pytest.approx(math.log(4), rel=1e-5)
    # half the batch on class 0, half on class 1: KL((1/2, 1/2, 0, 0) || uniform) = log 2
    half = torch.tensor([[60.0, 0, 0, 0], [0, 60.0, 0, 0]])
    assert balance(half).item() == pytest.approx(math.log(2), rel=1e-5)
    assert torch.isfinite(torch.autograd.functional.jacobian(balance, one_class)).all()
    assert balance(torch.stack([sure, one_class[:4]])).shape == (2,)  # one per copy
    # the smallest class share the trainer logs
    assert mean_prediction(half).amin(-1).item() == pytest.approx(0.0, abs=1e-12)
    assert mean_prediction(sure).amin(-1).item() == pytest.approx(0.25)


def test_the_balance_gradient_raises_a_vanishing_class():
    logits = torch.tensor([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [3.0, 0.0, 0.5]], requires_grad=True)
    class_balance_loss(mean_prediction(logits)).backward()
    assert (logits.grad[:, 2] < 0).all()          # descent raises class 2's logit on every image


def test_the_running_balance_term_leaves_a_confident_classifier_alone_when_its_history_is_balanced():
    # a confident, correct batch that by chance holds two images of class 0 and none of class 2: its
    # own KL is paid by making the class-0 images less sure; against a balanced history nothing moves
    logits = torch.tensor([[3.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 3.0, 0.0]], requires_grad=True)
    class_balance_loss(mean_prediction(logits)).backward()
    assert (logits.grad[:2, 0] > 0.01).all()   # descent lowers their (right) class's logit
    logits.grad = None
    balanced = torch.full((3,), 1 / 3)
    loss = running_balance_loss(mean_prediction(logits), balanced)
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    assert logits.grad.abs().max() < 1e-6


def test_the_running_balance_term_raises_the_class_its_history_lacks():
    logits = torch.zeros(4, 3, requires_grad=True)
    history = torch.tensor([0.5, 0.45, 0.05], requires_grad=True)
    running_balance_loss(mean_prediction(logits), history).backward()
    assert (logits.grad[:, 2] < 0).all() and (logits.grad[:, 0] > 0).all()
    assert history.grad is None  # a statistic: no gradient into it
    mean = mean_prediction(logits.detach())  # value: about KL(history || uniform) when the batch matches it
    assert running_balance_loss(history.detach(), history.detach()).item() == pytest.approx(
        class_balance_loss(history.detach()).item(), rel=1e-6)
    assert running_balance_loss(mean, history).shape == ()


def test_data_dependent_init_gives_standardized_preactivations():
    torch.manual_seed(0)
    x = torch.randn(2, 500, 20) * 3 + 2  # two copies, each initialized on its own batch
    x[1] = x[1] * 5 - 7
    layer = WNLinear(20, 7, copies=2)
    data_dependent_init(layer, x)
    out = layer(x)
    torch.testing.assert_close(out.mean(1), torch.zeros(2, 7), atol=1e-4, rtol=0)
    torch.testing.assert_close(out.std(1, unbiased=False), torch.ones(2, 7), atol=1e-4, rtol=0)
    assert not layer.init_mode


def test_data_dependent_init_standardizes_every_layer_of_the_classifier():
    torch.manual_seed(0)
    D = Classifier(30, (16, 12), num_classes=5, input_noise=0.0, hidden_noise=0.0)
    x = torch.rand(400, 30)
    data_dependent_init(D, x)
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o)) for m in D.modules() if isinstance(m, WNLinear)]
    D(x)
    for h in hooks:
        h.remove()
    assert len(seen) == 3
    for out in seen:  # (1 copy, batch, units)
        torch.testing.assert_close(out.mean(1), torch.zeros(1, out.shape[2]), atol=1e-4, rtol=0)
        torch.testing.assert_close(out.std(1, unbiased=False), torch.ones(1, out.shape[2]), atol=1e-3, rtol=0)


def test_gaussian_noise_only_in_training_mode():
    D = Classifier(10, (8,), num_classes=3)
    x = torch.rand(4, 10)
    D.eval()
    assert torch.equal(D(x), D(x))
    D.train()
    assert not torch.equal(D(x), D(x))


def test_generator_output_is_an_image_in_unit_interval():
    G = Generator(z_dim=6, hidden=(8, 8), out_features=12, copies=3)
    out = G(G.noise(5))
    assert out.shape == (3, 5, 12) and 0 <= out.min() and out.max() <= 1


def test_labeled_subset_is_balanced_deterministic_and_seed_dependent():
    labels = torch.arange(1000) % 10
    a = balanced_labeled_indices(labels, 100, 10, seed=3)
    assert torch.equal(a, balanced_labeled_indices(labels, 100, 10, seed=3))
    assert not torch.equal(a, balanced_labeled_indices(labels, 100, 10, seed=4))
    assert len(a.unique()) == 100
    assert torch.bincount(labels[a], minlength=10).tolist() == [10] * 10
    with pytest.raises(DataError, match="evenly"):
        balanced_labeled_indices(labels, 105, 10, seed=0)
    with pytest.raises(DataError, match="class 0 has only"):
        balanced_labeled_indices(labels[1:] , 1000, 10, seed=0)


def test_validation_images_lie_outside_the_labeled_subset_and_depend_only_on_the_seed():
    labeled = torch.tensor([0, 5, 7])
    a = validation_indices(20, labeled, 10, seed=1)
    assert torch.equal(a, validation_indices(20, labeled, 10, seed=1))
    assert not torch.equal(a, validation_indices(20, labeled, 10, seed=2))
    assert len(a.unique()) == 10 and not set(a.tolist()) & {0, 5, 7}
    assert validation_indices(20, labeled, 17, seed=1).tolist() == [i for i in range(20) if i not in (0, 5, 7)]
    with pytest.raises(DataError, match="val_size: 18 validation images .* only 17"):
        validation_indices(20, labeled, 18, seed=1)


def test_recipes_load_and_bad_values_name_the_key():
    cfg = load_semisup_config("ssgan_mnist100")
    assert (cfg.d_hidden, cfg.g_hidden, cfg.lr, cfg.batch_size, cfg.labels) == (
        "1000-500-250-250-250", "500-500", 0.003, 100, 100)
    assert load_semisup_config("ssgan_fashion").dataset == "fashion-mnist"
    with pytest.raises(ConfigError, match="labels: must be a multiple"):
        load_semisup_config("ssgan_mnist100", ["labels=105"])
    with pytest.raises(ConfigError, match="unknown key 'lr_g'"):
        load_semisup_config("ssgan_mnist100", ["lr_g=0.1"])
    with pytest.raises(ConfigError, match="d_hidden"):
        load_semisup_config(None, ["d_hidden=wide"])
    with pytest.raises(ConfigError, match="balance_ema: .*balance_weight is 0"):
        load_semisup_config(None, ["balance_ema=0.99"])
    with pytest.raises(ConfigError, match=r"balance_ema: must be in \[0, 1\)"):
        load_semisup_config(None, ["balance_weight=1", "balance_ema=1"])


def _tiny_classifier(tmp_path):
    torch.manual_seed(0)
    D = Classifier(784, (16,), num_classes=3, input_noise=0.0, hidden_noise=0.0)
    data_dependent_init(D, torch.rand(64, 784))
    meta = {"config": {"d_hidden": "16"}, "class_names": ["zero", "one", "two"], "image_shape": [1, 28, 28]}
    return D, save_classifier(tmp_path / "classifier", D.eval(), meta)


def test_classifier_round_trips_through_safetensors_and_json(tmp_path):
    D, path = _tiny_classifier(tmp_path)
    loaded, record = load_classifier(tmp_path)
    x = torch.rand(5, 784)
    torch.testing.assert_close(loaded(x), D(x))
    assert record["class_names"] == ["zero", "one", "two"]
    k, p = predict(loaded, x)
    assert k.shape == (5,) and ((0 < p) & (p <= 1)).all()
    with pytest.raises(GankitError, match="not found"):
        load_classifier(tmp_path / "nothing")


def test_classify_cli_reads_a_png(tmp_path):
    D, path = _tiny_classifier(tmp_path)
    png = tmp_path / "digit.png"
    Image.new("RGB", (40, 40), (255, 255, 255)).save(png)
    result = CliRunner().invoke(app, ["classify", str(path), str(png)])
    assert result.exit_code == 0, result.output
    x = torch.ones(1, 784)  # white, grey, resized: all ones
    k, p = predict(D, x)
    names = ["zero", "one", "two"]
    assert f"digit.png: {names[k.item()]}" in result.output and f"{p.item():.3f}" in result.output
    bad = CliRunner().invoke(app, ["classify", str(path), str(tmp_path / "missing.png")])
    assert bad.exit_code != 0


def test_semisup_cli_rejects_an_unknown_dataset():
    result = CliRunner().invoke(app, ["semisup", "--dataset", "cifar10", "--no-progress"])
    assert result.exit_code != 0
    assert "--dataset" in str(result.exception) or "--dataset" in result.output


def test_a_one_layer_width_override_reads_as_a_string():
    cfg = load_semisup_config(None, ["d_hidden=64", "g_hidden=32"])
    assert (cfg.d_hidden, cfg.g_hidden) == ("64", "32")


def test_a_collapsed_generator_is_named_and_a_healthy_one_is_not(tmp_path):
    healthy = {"epoch": 9, "loss_unl": 0.343, "loss_g": 1.9}      # seed 1 of our fast runs, epoch 9
    collapsed = {"epoch": 10, "loss_unl": 0.009, "loss_g": 78.1}  # ... and epoch 10
    assert collapse_warning(healthy, 1, tmp_path) is None
    message = collapse_warning(collapsed, 1, tmp_path)
    assert "seed 1, epoch 10" in message and "collapsed" in message and str(tmp_path / "samples.png") in message
    assert collapse_warning({"epoch": 3, "loss_lab": 0.1}, 0, tmp_path) is None   # supervised: no such loss


def test_a_vanishing_class_is_named_and_a_balanced_run_is_not():
    assert vanishing_class_warning({"epoch": 5, "smallest_class_unl": 0.085}, 3, 10) is None
    message = vanishing_class_warning({"epoch": 60, "smallest_class_unl": 0.004}, 3, 10)
    assert "seed 3, epoch 60" in message and "0.4%" in message and "balance_weight" in message
    assert vanishing_class_warning({"epoch": 3, "loss_lab": 0.1}, 0, 10) is None   # supervised: not measured


def test_confusion_matrix_counts_true_rows_and_predicted_columns_and_the_picture_is_written(tmp_path):
    y_true, y_pred = torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 1, 1, 2, 0, 2])
    matrix = confusion_matrix(y_true, y_pred, 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    shown = save_mistakes(torch.rand(6, 5, 5), y_true, y_pred, ["a", "b", "c"], tmp_path / "m.png")
    assert torch.equal(shown, matrix)
    assert Image.open(tmp_path / "m.png").size[0] > 500
