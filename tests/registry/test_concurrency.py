import threading

import pytest
from django.db import connection

from registry.models import ModelVersion
from tests import factories
from tests.conftest import make_persona


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_get_distinct_numbers():
    eng = make_persona("engineer")
    model = factories.model(eng)
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def register():
        try:
            barrier.wait()
            factories.version(eng, model)
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
    numbers = sorted(ModelVersion.objects.filter(model=model).values_list("version", flat=True))
    assert numbers == [1, 2, 3, 4, 5, 6]
    model.refresh_from_db()
    assert model.latest_version == 6
