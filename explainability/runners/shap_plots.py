"""Headless SVG plots of SHAP values.

The rules: plotting never needs a display (Agg backend, figures closed after saving); the SVG
bytes depend only on the values (fixed hash salt, no date), so re-running a job reproduces its
files; at most ``max_points`` rows are drawn in the beeswarm (an evenly spaced subset) to keep the
file small. shap's own ``bar`` / ``beeswarm`` are used; if they fail on some input, a plain
matplotlib rendering of the same information is written instead and the reason is returned.
"""

import os
from collections.abc import Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

_SVG_RC = {"svg.hashsalt": "gatehouse-shap", "svg.fonttype": "path"}


def write_shap_plots(
    values: np.ndarray,
    data: np.ndarray,
    feature_names: Sequence[str],
    base_value: float,
    out_dir: str,
    *,
    bar_name: str = "shap_bar.svg",
    beeswarm_name: str = "shap_beeswarm.svg",
    max_display: int = 20,
    max_points: int = 2000,
) -> list[str]:
    """Write the bar and beeswarm SVGs into ``out_dir``; return notes about any fallback."""
    if len(values) > max_points:
        keep = np.linspace(0, len(values) - 1, max_points).round().astype(int)
        values, data = values[keep], data[keep]
    notes: list[str] = []
    with matplotlib.rc_context(_SVG_RC):
        for name, shap_plot, fallback in (
            (bar_name, _shap_bar, _plain_bar),
            (beeswarm_name, _shap_beeswarm, _plain_beeswarm),
        ):
            path = os.path.join(out_dir, name)
            try:
                _save(shap_plot, path, values, data, feature_names, base_value, max_display)
            except Exception as exc:  # shap's plotting has many version-specific failure modes
                notes.append(f"{name}: shap plot failed ({type(exc).__name__}: {exc}); plain plot")
                _save(fallback, path, values, data, feature_names, base_value, max_display)
    return notes


def _save(draw, path, values, data, feature_names, base_value, max_display) -> None:
    plt.close("all")
    state = np.random.get_state()  # shap's beeswarm shuffles points with the global generator
    try:
        np.random.seed(0)
        draw(values, data, list(feature_names), base_value, max_display)
        figure = plt.gcf()
        figure.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    finally:
        np.random.set_state(state)
        plt.close("all")


def _explanation(values, data, feature_names, base_value):
    import shap

    return shap.Explanation(
        values=values,
        base_values=np.full(len(values), base_value),
        data=data,
        feature_names=feature_names,
    )


def _shap_bar(values, data, feature_names, base_value, max_display) -> None:
    import shap

    shap.plots.bar(
        _explanation(values, data, feature_names, base_value), max_display=max_display, show=False
    )


def _shap_beeswarm(values, data, feature_names, base_value, max_display) -> None:
    import shap

    shap.plots.beeswarm(
        _explanation(values, data, feature_names, base_value), max_display=max_display, show=False
    )


def _plain_bar(values, data, feature_names, base_value, max_display) -> None:
    importance = np.abs(values).mean(axis=0)
    order = np.argsort(-importance, kind="stable")[:max_display][::-1]
    figure, axes = plt.subplots(figsize=(7, 0.4 * len(order) + 1.2))
    axes.barh([feature_names[i] for i in order], importance[order], color="#1e88e5")
    axes.set_xlabel("mean(|SHAP value|)")


def _plain_beeswarm(values, data, feature_names, base_value, max_display) -> None:
    importance = np.abs(values).mean(axis=0)
    order = np.argsort(-importance, kind="stable")[:max_display][::-1]
    figure, axes = plt.subplots(figsize=(7, 0.4 * len(order) + 1.2))
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, size=len(values))
    for position, column in enumerate(order):
        feature = data[:, column].astype(float)
        span = np.nanmax(feature) - np.nanmin(feature) if np.isfinite(feature).any() else 0.0
        colour = (feature - np.nanmin(feature)) / span if span else np.full(len(feature), 0.5)
        axes.scatter(
            values[:, column], position + jitter, c=colour, cmap="coolwarm", s=6, vmin=0, vmax=1
        )
    axes.set_yticks(range(len(order)), [feature_names[i] for i in order])
    axes.axvline(0, color="#999999", linewidth=0.8)
    axes.set_xlabel("SHAP value (impact on model output)")
