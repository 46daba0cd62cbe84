"""Oversight: the records governance keeps about registry models (risk assessments,
documentation, findings, periodic reviews). Above registry and explainability, below approvals."""
