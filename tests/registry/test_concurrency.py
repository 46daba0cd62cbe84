import threading

import pytest
from django.db import connection

from registry.models import DatasetVersion, ModelVersion
from tests import factories
from tests.conftest import make_persona


def _model_parent(eng):
    model = factories.model(eng)
    return model, lambda: factories.version(eng, model), ModelVersion.objects.filter(model=model)


def _dataset_parent(eng):
    ds = factories.dataset(eng)
    return ds, lambda: factories.dataset_version(eng, ds), DatasetVersion.objects.filter(dataset=ds)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("make", [_model_parent, _dataset_parent], ids=["model", "dataset"])
def test_concurrent_registrations_get_distinct_numbers(make):
    eng = make_persona("engineer")
    parent, register_one, versions = make(eng)
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def register():
        try:
            barrier.wait()
            register_one()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    numbers = sorted(versions.values_list("version", flat=True))
    assert numbers == [1, 2, 3, 4, 5, 6]
    parent.refresh_from_db()
    assert parent.latest_version == 6
