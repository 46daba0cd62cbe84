"""Demo data for `manage.py load_demo`: real models trained on seeded data, saved as .skops.

Data: a synthetic credit-application table (fixed seed, with a sensitive attribute whose
relationship to the label is deliberate and modest) and scikit-learn's bundled breast-cancer data.
"""

from __future__ import annotations

import io
import platform
from dataclasses import dataclass

import numpy as np
import pandas as pd

CREDIT_FEATURES = ["income", "debt_ratio", "credit_history_years", "num_open_accounts",
                   "loan_amount", "age"]


def credit_table(n: int = 4000, seed: int = 7, shift: float = 0.0) -> pd.DataFrame:
    """Synthetic credit applications; `shift` moves income and debt (a drifted later sample)."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], size=n)
    age = rng.integers(19, 75, size=n)
    income = rng.lognormal(mean=10.6 + shift * 0.3, sigma=0.45, size=n).round(0)
    debt_ratio = np.clip(rng.beta(2, 5, size=n) + shift * 0.08, 0, 1).round(3)
    history = np.clip(age - 18 - rng.integers(0, 10, size=n), 0, None)
    accounts = rng.poisson(4, size=n)
    loan = (income * rng.uniform(0.1, 0.6, size=n)).round(0)
    logit = (
        -2.2 + 4.0 * debt_ratio - 0.9 * (np.log(income) - 10.6) - 0.03 * history
        + 0.12 * accounts + 1.2 * (loan / income) + 0.15 * (sex == "male")
    )
    default = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({
        "income": income, "debt_ratio": debt_ratio, "credit_history_years": history,
        "num_open_accounts": accounts, "loan_amount": loan, "age": age, "sex": sex,
        "age_band": np.where(age < 40, "under_40", "40_plus"), "default": default,
    })


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def signature(features: list[str]) -> dict:
    return {"inputs": [{"name": f, "type": "double"} for f in features],
            "outputs": [{"name": "probability", "type": "double"}]}


def environment() -> dict:
    import lightgbm
    import sklearn
    import skops

    return {"python": platform.python_version(), "packages": {
        "scikit-learn": sklearn.__version__, "lightgbm": lightgbm.__version__,
        "skops": skops.__version__, "numpy": np.__version__}}


@dataclass
class TrainedModel:
    artifact: bytes
    framework: str
    framework_version: str
    hyperparameters: dict
    metrics: dict
    features: list[str]


def _fit(estimator, X: pd.DataFrame, y: np.ndarray, framework: str, version: str,
         hyper: dict) -> TrainedModel:
    import skops.io
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    X_tr, X_te, y_tr, y_te = train_test_split(X.to_numpy(float), y, test_size=0.25, random_state=0)
    estimator.fit(X_tr, y_tr)
    proba = estimator.predict_proba(X_te)[:, 1]
    metrics = {"auc": round(float(roc_auc_score(y_te, proba)), 4),
               "accuracy": round(float(accuracy_score(y_te, proba >= 0.5)), 4)}
    buf = io.BytesIO(skops.io.dumps(estimator))
    return TrainedModel(buf.getvalue(), framework, version, hyper, metrics, list(X.columns))


def train_credit_models(df: pd.DataFrame) -> dict[str, TrainedModel]:
    import lightgbm
    import sklearn
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = df[CREDIT_FEATURES], df["default"].to_numpy()
    gbm_h = {"n_estimators": 120, "max_depth": 3, "learning_rate": 0.08, "random_state": 0}
    lr_h = {"C": 0.5, "max_iter": 2000}
    lgb_h = {"n_estimators": 150, "num_leaves": 15, "learning_rate": 0.05, "random_state": 0,
             "verbose": -1}
    return {
        "gbm": _fit(GradientBoostingClassifier(**gbm_h), X, y, "scikit-learn", sklearn.__version__, gbm_h),
        "logreg": _fit(LogisticRegression(**lr_h), X, y, "scikit-learn", sklearn.__version__, lr_h),
        "lgbm": _fit(lightgbm.LGBMClassifier(**lgb_h), X, y, "lightgbm", lightgbm.__version__, lgb_h),
    }


#: The remediated gradient-boosting model's features: without age and credit history, the
#: proxies of age_band through which version 1 failed its fairness thresholds.
REMEDIATED_FEATURES = [f for f in CREDIT_FEATURES if f not in ("age", "credit_history_years")]


def train_remediated_gbm(df: pd.DataFrame) -> TrainedModel:
    """credit-default-gbm@2: the same gradient boosting, trained without the age proxies."""
    import sklearn
    from sklearn.ensemble import GradientBoostingClassifier

    hyper = {"n_estimators": 120, "max_depth": 3, "learning_rate": 0.08, "random_state": 0}
    return _fit(GradientBoostingClassifier(**hyper), df[REMEDIATED_FEATURES],
                df["default"].to_numpy(), "scikit-learn", sklearn.__version__, hyper)


def cancer_table() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.copy()
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    return frame


def train_cancer_model(df: pd.DataFrame) -> TrainedModel:
    import sklearn
    from sklearn.ensemble import RandomForestClassifier

    features = [c for c in df.columns if c != "target"]
    hyper = {"n_estimators": 100, "max_depth": 6, "random_state": 0}
    return _fit(RandomForestClassifier(**hyper), df[features], df["target"].to_numpy(),
                "scikit-learn", sklearn.__version__, hyper)
