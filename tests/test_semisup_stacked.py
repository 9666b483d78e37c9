"""Seeds trained side by side (nets.stack_copies): each copy computes what its own network would."""

import json

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from gankit.cli import app
from gankit.errors import GankitError
from gankit.semisup import Classifier, Generator, load_classifier, load_semisup_config, train_semisup
from gankit.semisup.nets import copy_of, data_dependent_init, stack_copies

pytestmark = pytest.mark.usefixtures("one_thread")


def _classifiers(n: int) -> list[Classifier]:
    nets = []
    for seed in range(n):
        torch.manual_seed(seed)
        net = Classifier(12, (9, 7), num_classes=4)
        data_dependent_init(net, torch.rand(40, 12))
        nets.append(net)
    return nets


def test_each_copy_computes_its_own_network_forward_and_backward():
    plain = _classifiers(3)
    stack = stack_copies(plain).eval()
    assert stack.copies == 3 and stack.head.v.shape == (3, 4, 7)
    x = torch.rand(3, 5, 12)
    out = stack.stacked(x)
    assert out.shape == (3, 5, 4)
    (out ** 2).sum().backward()
    for k, net in enumerate(plain):
        net.eval()
        ref = net(x[k])
        torch.testing.assert_close(out[k], ref)
        torch.testing.assert_close(stack.stacked_features(x)[k], net.features(x[k]))
        (ref ** 2).sum().backward()
        for (name, p), q in zip(net.named_parameters(), stack.parameters()):
            torch.testing.assert_close(q.grad[k:k + 1], p.grad, msg=name)
    assert stack(x[0]).shape == (3, 5, 4)  # forward: every copy on the same images


def test_copy_of_gives_back_a_one_copy_network_with_the_same_weights_and_mode():
    plain = _classifiers(2)
    stack = stack_copies(plain)
    assert stack.training and copy_of(stack, 1).training
    one = copy_of(stack.eval(), 1)
    assert isinstance(one, Classifier) and one.copies == 1 and not one.training
    for (name, a), (_, b) in zip(one.state_dict().items(), plain[1].state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    one.head.b.data.add_(1.0)  # its own storage: the stack is untouched
    assert not torch.equal(stack.head.b[1], one.head.b[0])
    with pytest.raises(IndexError):
        copy_of(stack, 2)
    with pytest.raises(ValueError, match="one-copy"):
        stack_copies([stack])


def test_batch_norm_statistics_and_noise_are_per_copy_and_follow_the_mode():
    torch.manual_seed(0)
    gens = [Generator(z_dim=4, hidden=(6,), out_features=5) for _ in range(2)]
    stack = stack_copies(gens).train()
    z = torch.rand(2, 8, 4)
    z[1] = z[1] * 3 + 1  # copy 1 sees other batches: its batch-norm statistics must be its own
    out = stack(z)
    for k, g in enumerate(gens):
        torch.testing.assert_close(out[k], g.train()(z[k:k + 1])[0])
        torch.testing.assert_close(stack.body[1].running_mean[k], g.body[1].running_mean[0])
    d = stack_copies(_classifiers(2))
    x = torch.rand(2, 5, 12)
    assert not torch.equal(d.train().stacked(x), d.stacked(x))      # Gaussian noise in training mode
    torch.testing.assert_close(d.eval().stacked(x), d.stacked(x))   # none at test time


def test_format_1_classifier_files_still_load(tmp_path):
    net = _classifiers(1)[0].eval()
    save_file({k: v[0].contiguous() for k, v in net.state_dict().items()}, tmp_path / "classifier.safetensors")
    (tmp_path / "classifier.json").write_text(json.dumps(
        {"kind": "gankit-semisup-classifier", "format": 1, "in_features": 12, "num_classes": 4, "d_hidden": "9-7"}))
    loaded, _ = load_classifier(tmp_path)
    x = torch.rand(3, 12)
    torch.testing.assert_close(loaded(x), net(x))


TINY = ["labels=20", "unlabeled_limit=300", "image_size=7", "d_hidden=16", "g_hidden=16", "z_dim=8",
        "init_batch=100", "epochs=2", "device=cpu"]


def _cfg(root, extra):
    return load_semisup_config("ssgan_mnist100", [f"data_root={root}", *TINY, *extra])


def test_a_stack_of_seeds_trains_each_seed_as_if_alone(real_data_root, tmp_path):
    # Without noise layers the supervised method draws nothing at random after init, so each
    # copy of the stack must end where a run of its seed alone ends.
    quiet = ["method=supervised", "input_noise=0", "hidden_noise=0"]
    stack = train_semisup(_cfg(real_data_root, [*quiet, "seed=3", "parallel_seeds=2"]), run_dir=tmp_path / "stack",
                          progress=False)
    assert stack.seeds == (3, 4) and stack.seed_dirs == [tmp_path / "stack" / "seed-3", tmp_path / "stack" / "seed-4"]
    for seed, folder, errors in zip(stack.seeds, stack.seed_dirs, stack.test_errors):
        alone = train_semisup(_cfg(real_data_root, [*quiet, f"seed={seed}"]), run_dir=tmp_path / f"alone{seed}",
                              progress=False)
        assert alone.test_errors == [errors]
        mine, _ = load_classifier(folder)
        theirs, _ = load_classifier(alone.run_dir)
        for (name, a), (_, b) in zip(mine.state_dict().items(), theirs.state_dict().items()):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
        assert json.loads((folder / "labeled_indices.json").read_text()) == \
            json.loads((alone.run_dir / "labeled_indices.json").read_text())
        result = json.loads((folder / "result.json").read_text())
        assert result["seed"] == seed and result["trained_with_seeds"] == [3, 4]
        assert len((folder / "metrics.jsonl").read_text().splitlines()) == 2  # one row per epoch


def test_a_stacked_gan_run_resumes_exactly_and_each_seed_can_be_used(real_data_root, tmp_path):
    # with the Pi recipe's terms: the running class marginal is one per copy and must resume too
    cfg = _cfg(real_data_root, ["seed=1", "parallel_seeds=2", "consistency_weight=1", "balance_weight=1",
                                "balance_ema=0.9"])
    whole = train_semisup(cfg, run_dir=tmp_path / "whole", progress=False)
    from gankit.semisup import semisup_trainer
    first = semisup_trainer(cfg, tmp_path / "split")
    for _ in range(4):
        first.train_step()
    marginals = first.game.marginal.mean  # one running marginal per seed, each its own
    assert marginals.shape == (2, 10) and not torch.allclose(marginals[0], marginals[1])
    first.save()
    resumed = train_semisup(cfg, run_dir=tmp_path / "split", resume=True, progress=False)
    assert resumed.test_errors == whole.test_errors
    for k in range(2):
        a, b = whole.classifiers[k].state_dict(), resumed.classifiers[k].state_dict()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert (tmp_path / "whole" / "seed-2" / "samples.png").is_file()
    png = tmp_path / "x.png"
    from PIL import Image
    Image.new("L", (28, 28)).save(png)
    out = CliRunner().invoke(app, ["classify", str(tmp_path / "whole" / "seed-2"), str(png)])
    assert out.exit_code == 0 and "probability" in out.output, out.output
    with pytest.raises(GankitError, match="seed-1.*seed-2"):  # the stack's folder: which seed?
        load_classifier(tmp_path / "whole")
    from gankit.attacks import load_classifier as load_attack_target
    with pytest.raises(GankitError, match="side by side"):
        load_attack_target(tmp_path / "whole")


def test_the_cli_reports_every_seed_and_their_mean(real_data_root, tmp_path):
    sets = [arg for item in TINY if not item.startswith(("labels", "epochs")) for arg in ("--set", item)]
    out = CliRunner().invoke(app, ["semisup", "--labels", "20", "--epochs", "1", "--seed", "0", "--parallel-seeds",
                                   "2", "--data-root", str(real_data_root), "-o", str(tmp_path / "run"),
                                   "--no-progress", *sets])
    assert out.exit_code == 0, (out.output, out.exception)
    assert "seed 0," in out.output and "seed 1," in out.output and "mean over 2 seeds" in out.output


def test_the_captured_step_trains_what_the_eager_one_trains(real_data_root, tmp_path):
    # The captured step (gankit.capture) draws its noise from torch's own streams, as the eager
    # one does, so with the noise layers on the compiled run follows the eager one (up to float
    # rounding). The consistency term's second, noisy unlabeled pass is captured too.
    quiet = ["seed=0", "parallel_seeds=2", "epochs=1", "consistency_weight=1",
             "balance_weight=1", "balance_ema=0.9"]
    eager = train_semisup(_cfg(real_data_root, quiet), run_dir=tmp_path / "eager", progress=False)
    compiled = train_semisup(_cfg(real_data_root, [*quiet, "compile=true"]), run_dir=tmp_path / "compiled",
                             progress=False)
    for a, b in zip(eager.classifiers, compiled.classifiers):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5, msg=name)
