"""A COMPAS-like table of recorded decisions (synthetic, seeded): a vendor risk tool's decile
score and its Low/Medium/High text, the recorded two-year outcome, race and sex, and the columns
ProPublica's analysis filters on (days_b_screening_arrest, is_recid)."""

from __future__ import annotations

import numpy as np
import pandas as pd

FILTERS = ["days_b_screening_arrest <= 30", "days_b_screening_arrest >= -30", "is_recid != -1"]
RACES = ["African-American", "Caucasian", "Hispanic", "Other"]


def table(n: int = 1500, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    race = rng.choice(RACES, size=n, p=[0.5, 0.34, 0.09, 0.07])
    sex = rng.choice(["Male", "Female"], size=n, p=[0.8, 0.2])
    risk = rng.normal(size=n) + np.where(race == "African-American", 0.35, 0.0)
    decile = np.clip(np.ceil((risk + 2.2) / 4.4 * 10), 1, 10).astype(int)
    score_text = np.where(decile <= 4, "Low", np.where(decile <= 7, "Medium", "High"))
    recid = (rng.random(n) < 1 / (1 + np.exp(-(0.9 * risk - 0.2)))).astype(int)
    days = rng.integers(-60, 60, size=n)
    is_recid = np.where(rng.random(n) < 0.05, -1, recid)
    return pd.DataFrame({
        "id": np.arange(1, n + 1), "race": race, "sex": sex, "decile_score": decile,
        "score_text": score_text, "two_year_recid": recid,
        "days_b_screening_arrest": days, "is_recid": is_recid,
    })


def filtered(df: pd.DataFrame) -> pd.DataFrame:
    """The same rows the job's FILTERS keep, selected directly with pandas."""
    keep = (df.days_b_screening_arrest <= 30) & (df.days_b_screening_arrest >= -30)
    return df[keep & (df.is_recid != -1)]
