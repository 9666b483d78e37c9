"""GAN data augmentation: a class-conditional GAN trained on a few labels as a source of training images.

    from gankit.augment import load_augment_config, run_augment
    result = run_augment(load_augment_config("augment_cpu", ["dataset=mnist", "seed=0"]))
    result.arms["classic+gan"]["test_errors"]

Five arms train one classifier for one step budget: real only, real + classic augmentation, real +
generated, classic + generated, generated only (the classification accuracy score). DiffAugment for
every GAN recipe (``train.diffaug``) lives in gankit.data.augment.
"""

from gankit.augment.config import ARMS, DEFAULT_ARMS, AugmentConfig, load_augment_config
from gankit.augment.data import LabelledData, load_labelled
from gankit.augment.run import AugmentResult, gan_config, run_augment

__all__ = ["ARMS", "DEFAULT_ARMS", "AugmentConfig", "AugmentResult", "LabelledData", "gan_config", "load_augment_config",
           "load_labelled", "run_augment"]
