"""Concurrent writers share no lock and still get distinct positions: 8 threads x 200 events,
sealed into a tree that verifies (CI runs this on PostgreSQL, where positions come from a
sequence and writers really overlap)."""

import threading

import pytest
from django.db import connection, transaction

from governance import audit
from governance.auditlog.sealer import seal
from governance.models import AuditEvent

WRITERS = 8
EVENTS_EACH = 200


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_writers_get_distinct_positions_and_a_tree_that_verifies():
    errors: list[BaseException] = []
    barrier = threading.Barrier(WRITERS)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(EVENTS_EACH):
                with transaction.atomic():
                    audit.record(action="governance.team.created", object_type="test.writer",
                                 object_id=f"{n}-{i}", payload={"writer": n, "i": i})
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total = WRITERS * EVENTS_EACH
    assert AuditEvent.objects.filter(object_type="test.writer").count() == total
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert len(set(seqs)) == len(seqs)
    assert seqs == list(range(1, len(seqs) + 1))  # nothing rolled back: no holes
    sealed = seal()
    assert (sealed.sealed, sealed.checkpoint.tree_size) == (len(seqs), len(seqs))
    result = audit.verify_chain()
    assert result.ok, result
    assert (result.checked, result.sealed) == (len(seqs), len(seqs))
