import pytest
import yaml

from gankit.config import Config, from_dict, list_recipes, load_config
from gankit.errors import ConfigError

REQUIRED = {"gan2014_mnist", "dcgan_mnist", "dcgan_fashion", "wgangp_fashion", "sngan_hinge_cifar10",
            "cgan_mnist", "toy_ring", "quickstart"}


def test_every_recipe_loads_and_has_a_description():
    recipes = list_recipes()
    assert REQUIRED <= set(recipes)
    for name, description in recipes.items():
        assert description, name
        cfg = load_config(name)
        assert cfg.name == name


def test_gan2014_recipe_has_the_paper_setup():
    cfg = load_config("gan2014_mnist")
    assert (cfg.model.arch, cfg.train.optimizer, cfg.train.batch_size) == ("mlp2014", "sgd", 100)
    assert (cfg.train.lr_g, cfg.train.lr_d) == (0.1, 0.05)  # the paper's D cost is halved
    assert (cfg.train.momentum, cfg.train.momentum_final) == (0.5, 0.7)
    assert cfg.data.limit == 50000
    assert cfg.train.update == "simultaneous"  # AdversaryCost2's one-pass update


@pytest.mark.parametrize("override, message", [
    ("train.lr_gg=0.1", "unknown key 'train.lr_gg'"),
    ("modle.arch=dcgan", "unknown key 'modle'"),
    ("train.steps=abc", "train.steps: expected int"),
    ("train.steps=1.5", "train.steps: expected int"),
    ("train.steps=-3", "train.steps: must be > 0"),
    ("train.optimizer=rmsprop", "train.optimizer: expected one of"),
    ("train.loss=nope", "train.loss: unknown objective 'nope'"),
    ("model.arch=vit", "model.arch: unknown architecture 'vit'"),
    ("data.name=imagenet", "data.name: unknown dataset 'imagenet'"),
    ("train.betas=[0.5]", "train.betas: expected a list of 2"),
    ("train.lr_g=fast", "train.lr_g: expected float"),
    ("train.update=both", "train.update: expected one of"),
    ("train.ema=1.5", "train.ema: must be in [0, 1)"),
    ("model.spectral_norm=3", "model.spectral_norm: expected bool"),
    ("train.device=tpu", "train.device"),
    ("trainsteps", "expected key=value"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        load_config("dcgan_mnist", [override])
    assert message in str(err.value)


def test_overrides_are_parsed_as_yaml_and_ints_widen_to_float():
    cfg = load_config("dcgan_mnist", ["train.lr_g=1", "train.betas=[0.0, 0.9]", "model.spectral_norm=true"])
    assert cfg.train.lr_g == 1.0 and isinstance(cfg.train.lr_g, float)
    assert cfg.train.betas == (0.0, 0.9)
    assert cfg.model.spectral_norm is True
    # YAML 1.1 reads "1e-4" as a string; a float field still takes it
    assert load_config("dcgan_mnist", ["train.lr_d=1e-4"]).train.lr_d == 1e-4


def test_unknown_recipe_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="unknown recipe 'nope'"):
        load_config("nope")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "x.yaml"))


def test_recipe_file_with_bad_yaml_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(str(bad))
    listy = tmp_path / "listy.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(str(listy))


def test_config_round_trips_through_yaml():
    cfg = load_config("wgangp_fashion", ["train.steps=7"])
    again = from_dict(Config, yaml.safe_load(yaml.safe_dump(cfg.to_dict())))
    assert again == cfg
