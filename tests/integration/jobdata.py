"""Real small models and datasets for job tests: trained here, registered through the services."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import skops.io

from registry import demo, services
from tests import factories

FEATURES = list(demo.CREDIT_FEATURES)


def credit(n: int = 600, seed: int = 7, shift: float = 0.0) -> pd.DataFrame:
    return demo.credit_table(n=n, seed=seed, shift=shift)


def estimator(kind: str):
    if kind == "gbm":
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0)
    if kind == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=2000)
    if kind == "lgbm":
        import lightgbm

        return lightgbm.LGBMClassifier(n_estimators=30, num_leaves=7, random_state=0, verbose=-1)
    if kind == "pipeline":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    raise ValueError(kind)


def fit(kind: str, df: pd.DataFrame):
    """Fitted on a plain array of FEATURES (as the demo does), so names come from the signature."""
    return estimator(kind).fit(df[FEATURES].to_numpy(float), df["default"].to_numpy())


def upload_dataset(actor, df: pd.DataFrame, name: str = "applications", *, sensitive=("sex", "age_band")):
    from registry.models import Dataset

    ds = Dataset.objects.filter(name=name).first() or factories.dataset(
        actor, name=name, sensitive_attributes=list(sensitive)
    )
    return services.dataset_version_register(
        actor=actor, dataset=ds, file=factories.upload(df.to_csv(index=False).encode(), "d.csv"),
        filename="d.csv",
    )


def register(actor, fitted, *, name: str = "credit-pd", training=None, signature: bool = True):
    from registry.models import RegisteredModel

    model = RegisteredModel.objects.filter(name=name).first() or factories.model(actor, name=name)
    return services.model_version_register(
        actor=actor, model=model,
        artifact_file=io.BytesIO(skops.io.dumps(fitted)), artifact_filename="model.skops",
        signature=demo.signature(FEATURES) if signature else None,
        training_datasets=[training.ref] if training is not None else [],
    )


def rows_as_array(df: pd.DataFrame) -> np.ndarray:
    return df[FEATURES].to_numpy(float)
