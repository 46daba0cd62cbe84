"""MLflow-compatible Model Registry endpoint: engineers keep their MLflow client.

    export MLFLOW_TRACKING_TOKEN=<a Gatehouse API token>   # or MLFLOW_TRACKING_USERNAME/PASSWORD
    client = MlflowClient(registry_uri="https://gatehouse.example.com")  # tracking stays where it is
    client.create_registered_model("credit-default")
    client.create_model_version("credit-default", "s3://models/credit/model.onnx",
                                tags={"gatehouse.artifact_sha256": "<sha256 of model.onnx>"})

Served under /api/2.0/mlflow/ (and /ajax-api/2.0/mlflow/). Models and versions are Gatehouse
registry rows (team ownership, audit events, lineage). Transitions to Staging/Production and
protected aliases (MLFLOW_PROTECTED_ALIASES) open a promotion request and answer
PERMISSION_DENIED naming the missing approvals; once approved, the client sees the new stage.
`manage.py import_mlflow` brings an existing MLflow registry over.
"""
