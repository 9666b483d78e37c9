"""Fairness through an adversary: predictions, or representations, that do not give away a sensitive attribute.

    from gankit.fair import FairConfig, fit, patient_table
    table = patient_table("whas500")                               # or read_csv / table_from_frame
    model = fit(table, "gender", FairConfig(criterion="odds"))     # Zhang et al.'s adversarial debiasing
    model.record["test"]["equalized_odds_difference"]              # measured on held-out rows
    model.save("model/")

Two games on gankit's one loop (games.py): adversarial debiasing (Zhang, Lemoine & Mitchell
2018: an adversary reads the prediction, and the prediction with the true outcome for
equalized odds; the predictor's gradient has the adversary's direction projected out) and a
fair representation (Edwards & Storkey 2016, Madras et al. 2018: encoder, task head and an
adversary on the representation; :class:`FairEncoder` hands the encoder to any scikit-learn
estimator). The metrics are fairlearn's (metrics.py).
"""

from gankit.fair.config import FairConfig, load_fair_config, read_fair_config
from gankit.fair.data import FairData, prepare
from gankit.fair.encoder import FairEncoder
from gankit.fair.fit import FitInterrupted, choose_weight, fit, tradeoff, train_in_memory
from gankit.fair.games import DebiasGame, RepresentationGame, make_game
from gankit.fair.metrics import fairness_metrics, recovery_chance
from gankit.fair.model import FairModel
from gankit.fair.tables import PATIENT_TABLES, keep_groups, patient_table, table_from_frame

__all__ = ["DebiasGame", "FairConfig", "FairData", "FairEncoder", "FairModel", "FitInterrupted", "PATIENT_TABLES",
           "RepresentationGame", "choose_weight", "fairness_metrics", "fit", "keep_groups", "load_fair_config",
           "make_game", "patient_table", "prepare", "read_fair_config", "recovery_chance", "table_from_frame",
           "tradeoff", "train_in_memory"]
