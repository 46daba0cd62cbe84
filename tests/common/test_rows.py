"""common.rows builds the instance the ORM would have built from a plain-SQL row."""

import pytest
from django.conf import settings
from django.db import connection

from common import rows
from registry import services
from registry.models import ModelVersion, RegisteredModel
from tests import factories


@pytest.fixture
def version(personas):
    eng = personas["engineer"]
    model = factories.model(eng, title="Credit default")
    return services.model_version_register(
        actor=eng, model=model, artifact_uri="s3://m/v1.onnx", artifact_sha256="a" * 64,
        metrics={"auc": 0.8}, hyperparameters={"C": [1, 2]}, tags=["b", "a"], description="x",
    )


def _read(model, alias=""):
    fields, cols = rows.columns(model, alias)
    prefix = f"{alias}." if alias else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {cols} FROM {model._meta.db_table} {alias} ORDER BY {prefix}id")
        return fields, cursor.fetchall()


def test_an_instance_from_a_row_equals_the_orms(version):
    for alias in ("", "v", ""):  # the second read of a model reuses what the first worked out
        fields, found = _read(ModelVersion, alias)
        built = rows.instance(ModelVersion, fields, found[0])
        orm = ModelVersion.objects.get(pk=version.pk)
        assert not built._state.adding and built._state.db == "default"
        for field in ModelVersion._meta.concrete_fields:
            assert getattr(built, field.attname) == getattr(orm, field.attname), field.name
        assert built.metrics == {"auc": 0.8} and built.hyperparameters == {"C": [1, 2]}
        assert built.created_at.tzinfo is not None


def test_an_instance_needs_a_value_for_each_field(version):
    fields, found = _read(ModelVersion)
    with pytest.raises(ValueError):
        rows.instance(ModelVersion, fields, found[0][:-1])


def test_a_partial_instance_loads_what_it_was_not_given(version):
    model = rows.partial(RegisteredModel, id=version.model_id, name="credit-default")
    assert model.pk == version.model_id and not model._state.adding
    assert model.get_deferred_fields() >= {"title", "team_id"}
    assert model.title == "Credit default"
    with pytest.raises(ValueError, match="no field nope"):
        rows.partial(RegisteredModel, id=1, nope=2)



def test_a_version_get_is_one_logged_statement_prepared_once_per_connection(client_for, version):
    """Its statement is in the query log as any other (composed), and on PostgreSQL prepared:
    the second GET on the connection runs the prepared statement again."""
    from django.test.utils import CaptureQueriesContext

    client = client_for("engineer")
    for _ in range(2):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/models/credit-default/versions/1/").status_code == 200
        logged = [q["sql"] for q in ctx.captured_queries if "lineageedge" in q["sql"]]
        assert len(logged) == 1 and "'credit-default'" in logged[0]
    if connection.vendor == "postgresql" and settings.DB_PREPARED_STATEMENTS:
        with connection.cursor() as cursor:
            cursor.execute("SELECT generic_plans + custom_plans FROM pg_prepared_statements "
                           "WHERE statement LIKE %s", ["%registry_lineageedge%"])
            assert [row[0] for row in cursor.fetchall()] == [2]
