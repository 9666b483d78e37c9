"""A fitted fair representation as a scikit-learn transformer, for any estimator to build on.

    from sklearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression
    pipeline = make_pipeline(FairEncoder("model/"), LogisticRegression()).fit(frame, y)

``FairEncoder(model)`` takes a model folder from ``gankit fair fit --method representation``
(or a loaded FairModel). Its ``fit`` learns nothing (the encoder was trained against the
adversary already); ``transform`` maps a pandas DataFrame with the model's feature columns
(or a gankit Table) to the representation, one row per row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from gankit.errors import GankitError
from gankit.fair.model import FairModel
from gankit.fair.tables import frame_as_table
from gankit.privacy.schema import Table


class FairEncoder(TransformerMixin, BaseEstimator):
    """The encoder of a fair-representation model; ``model``: its folder or a FairModel."""

    def __init__(self, model: str | Path | FairModel = "model"):
        self.model = model

    def fit(self, X=None, y=None) -> FairEncoder:
        model = self.model if isinstance(self.model, FairModel) else FairModel.load(self.model)
        if model.config.method != "representation":
            raise GankitError(f"{self.model}: an adversarially debiased predictor has no representation to "
                              f"export; fit with --method representation")
        self.model_ = model
        self.n_features_out_ = model.config.rep_dim
        return self

    def transform(self, X) -> np.ndarray:
        if not hasattr(self, "model_"):
            self.fit()
        table = X if isinstance(X, Table) else frame_as_table(X, self.model_.features.schema)
        return self.model_.transform(table)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array([f"z{i}" for i in range(self.model_.config.rep_dim)], dtype=object)
