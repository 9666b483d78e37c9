"""Unpaired image-to-image translation: CycleGAN (Zhu et al. 2017) on the one loop, scored while it trains.

    from gankit.translate import load_translate_config, train_translation
    result = train_translation(load_translate_config("cyclegan_cpu", ["domain_b=digits"]))
    result.scores["accuracy_ab"]     # a target-domain classifier on translated source test images
"""

from gankit.translate.config import TranslateConfig, load_translate_config
from gankit.translate.game import CycleGANGame
from gankit.translate.pool import ImagePool
from gankit.translate.train import TranslationResult, train_translation

__all__ = ["CycleGANGame", "ImagePool", "TranslateConfig", "TranslationResult", "load_translate_config",
           "train_translation"]
