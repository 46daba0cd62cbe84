"""Pure computation behind explainability jobs: SHAP, fairness and drift.

Nothing in this package imports Django or touches the ORM. Celery tasks pass in file paths,
frames and plain dicts, and store the JSON-serialisable dicts that come back. Modules:

- ``errors``: the exceptions a task maps to a job state (user error, unsafe artifact, retry).
- ``loading``: loads skops / ONNX artifacts after checking their sha256 and allowed types.
- ``data``: reads CSV / Parquet, validates feature columns, applies row filters.
- ``shap_runner``: SHAP values in a plan -> chunks -> finalize shape so a chord can split work.
- ``fairness``: group metrics from summable confusion counts, checked against thresholds.
- ``drift``: PSI, KS and chi-square per feature, plus SHAP-importance drift.
"""
