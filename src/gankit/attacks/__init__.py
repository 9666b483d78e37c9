"""Adversarial examples: attacks, adversarial training and a robustness report.

    >>> from gankit.attacks import PGD, load_classifier
    >>> model = load_classifier("runs/adv-pgd-mnist")      # inputs in [0, 1], logits out
    >>> x_adv = PGD(eps=0.3, steps=40, seed=0)(model, x, y)

Every attack is called the same way, ``attack(model, x, y) -> x_adv`` (see
:mod:`gankit.attacks.base` for the conventions); :data:`ATTACKS` maps the CLI's
``--attack`` names to the classes.
"""

from gankit.attacks.adapters import ClassifierAdapter, as_classifier, load_classifier, read_classifier
from gankit.attacks.apgd import APGD
from gankit.attacks.base import ATTACKS, Attack, AttackError, lp_norm, project, register_attack
from gankit.attacks.minimum_norm import CW, DeepFool
from gankit.attacks.models import MODELS, MadryCNN, Normalize, SmallCNN, build_model
from gankit.attacks.pgd import FGSM, PGD

__all__ = ["APGD", "ATTACKS", "Attack", "AttackError", "CW", "ClassifierAdapter", "DeepFool", "FGSM", "MODELS",
           "MadryCNN", "Normalize", "PGD", "SmallCNN", "as_classifier", "build_model", "load_classifier",
           "lp_norm", "project", "read_classifier", "register_attack"]
