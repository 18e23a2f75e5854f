"""Batch chunks and results, on SQLite and (marked integration) on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from core import row_blob
from core.batch_store import BatchStore, InputRow, RowResult
from core.errors import EmptyBatch, JobNotFound
from tests.fixtures.stores import TrackedStore, make_batch, process

UNICODE_NAMES = ["Tubo PVC 1/2\"", "Llave española ñ", "Codo 90° «cobre»", "Ünïcødé ✓ 🔧",
                 "comma, and \"quotes\"", "tab\tinside", "line\nbreak", "NUL\x00byte",
                 "日本語の名前", ""]


def test_chunks_round_trip_unicode_names_ids_and_errors(store: TrackedStore,
                                                        batches: BatchStore) -> None:
    rows = [InputRow(id=None if i % 3 == 0 else f"SKU-{i}", name=name,
                     error="empty name" if not name else None)
            for i, name in enumerate(UNICODE_NAMES)]

    job, created = batches.create_batch([rows[:4], rows[4:8], rows[8:]])

    assert created
    assert (job.kind, job.state, job.total_rows, job.n_chunks) == ("batch", "queued", 10, 3)
    assert batches.get_chunk(job.id, 0) + batches.get_chunk(job.id, 1) + batches.get_chunk(
        job.id, 2) == rows
    recorded = store.get(job.id)
    assert (recorded.total_rows, recorded.n_chunks, recorded.rows_done) == (10, 3, 0)
    with pytest.raises(JobNotFound):
        batches.get_chunk(job.id, 3)


def test_a_chunk_result_is_stored_once(
    store: TrackedStore, batches: BatchStore
) -> None:
    job_id = make_batch(batches, ["a", "b", "c"], size=2)

    assert batches.put_result(job_id, 0, [("X", 0.9, None), ("Y", 0.8, None)]) is True
    assert batches.put_result(job_id, 0, [("Z", 0.1, None), ("Z", 0.1, None)]) is False

    assert batches.has_result(job_id, 0)
    assert not batches.has_result(job_id, 1)
    assert batches.chunks_done(job_id) == 1
    assert store.get(job_id).rows_done == 2
    assert [r.category for r in batches.iter_results(job_id)] == ["X", "Y"]  # the first write


def test_results_keep_decision_top_k_and_known(
    store: TrackedStore, batches: BatchStore
) -> None:
    job_id = make_batch(batches, ["a", "b", "c", "d"], size=2)
    batches.put_result(job_id, 0, [
        RowResult("X", 0.99, None, "auto", [("X", 0.99), ("Y", 0.01)], True),
        RowResult(None, None, "empty name"),
    ])
    # Results stored before decisions existed hold three fields: they read back undecided.
    batches.put_result(job_id, 1, [("Y", 0.6, None), ("X", 0.7, None)])

    rows = list(batches.iter_results(job_id))

    assert [(r.decision, r.known) for r in rows] == [("auto", True), (None, None),
                                                     (None, None), (None, None)]
    assert rows[0].top_k == [("X", 0.99), ("Y", 0.01)]
    assert rows[1].top_k == []
    assert rows[1].error == "empty name"


def test_decision_counts_per_category(store: TrackedStore, batches: BatchStore) -> None:
    job_id = make_batch(batches, ["a", "b", "c", "d", "e"], size=2)
    batches.put_result(job_id, 0, [RowResult("X", 0.99, None, "auto", [("X", 0.99)], True),
                                   RowResult("X", 0.6, None, "review", [("X", 0.6)], True)])
    batches.put_result(job_id, 1, [RowResult("Y", 0.4, None, "review", [("Y", 0.4)], False),
                                   RowResult(None, None, "empty name")])
    batches.put_result(job_id, 2, [RowResult("Y", 0.999, None, "auto", [("Y", 0.999)], True)])

    assert batches.decision_counts(job_id) == {
        "auto": 2, "review": 2, "errors": 1,
        "per_category": {"X": {"auto": 1, "review": 1}, "Y": {"auto": 1, "review": 1}},
    }


def test_chunks_pending_are_those_without_a_result(
    store: TrackedStore, batches: BatchStore
) -> None:
    job_id = make_batch(batches, [f"n{i}" for i in range(10)], size=3)  # chunks 0..3
    assert batches.chunks_pending(job_id) == [0, 1, 2, 3]

    process(batches, job_id, 1)
    process(batches, job_id, 3)

    assert batches.chunks_pending(job_id) == [0, 2]


@pytest.mark.parametrize("frame_rows", [100, 2])
def test_results_page_across_chunk_boundaries_in_input_order(
    store: TrackedStore, batches: BatchStore, monkeypatch: pytest.MonkeyPatch, frame_rows: int
) -> None:
    """Pages across chunks, and across the frames a chunk is stored in (core/row_blob.py)."""
    monkeypatch.setattr(row_blob, "FRAME_ROWS", frame_rows)
    names = [f"name-{i}" for i in range(17)]
    job_id = make_batch(batches, names, size=5)  # chunks of 5, 5, 5, 2
    for idx in (3, 1, 0, 2):  # finished out of order
        process(batches, job_id, idx)

    for offset in range(0, 19):
        for limit in (1, 4, 5, 6, 11, None):
            rows = list(batches.iter_results(job_id, offset=offset, limit=limit))
            end = None if limit is None else offset + limit
            assert [r.row for r in rows] == list(range(17))[offset:end], (offset, limit)
            assert [r.name for r in rows] == names[offset:end]
    every = list(batches.iter_results(job_id))
    index = batches.result_index(job_id, finished=False)
    for picked in ([16, 0, 9], [4, 5, 6, 7], list(range(17)), []):
        assert batches.rows_at(index, sorted(picked)) == [every[i] for i in sorted(picked)]
    assert [(r.id, r.category, r.confidence, r.error) for r in every[:2]] == [
        ("id-0", "cat-name-0", 0.5, None), ("id-1", "cat-name-1", 0.5, None)]


def test_results_skip_chunks_not_processed_yet(
    store: TrackedStore, batches: BatchStore
) -> None:
    job_id = make_batch(batches, [f"n{i}" for i in range(9)], size=3)
    process(batches, job_id, 0)
    process(batches, job_id, 2)

    assert [r.row for r in batches.iter_results(job_id)] == [0, 1, 2, 6, 7, 8]


def test_a_batch_is_recorded_all_or_nothing(
    store: TrackedStore, batches: BatchStore
) -> None:
    """An intake cut short mid-upload leaves no job (nor chunks) for a retry to find."""
    key = f"cut-{uuid.uuid4().hex}"

    def rows_then_failure() -> Iterator[list[InputRow]]:
        yield [InputRow(id="1", name="Tubo PVC 1/2\"")]
        yield [InputRow(id="2", name="Foco LED 9W")]
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        batches.create_batch(rows_then_failure(), idempotency_key=key)
    assert store.find_by_key(key) is None

    job, created = batches.create_batch(iter([[InputRow(id="1", name="Taladro")]] * 3),
                                        idempotency_key=key)
    assert created
    assert job.state == "queued"
    assert (job.total_rows, job.n_chunks) == (3, 3)
    again, created_again = batches.create_batch(iter([[InputRow(id="x", name="y")]]),
                                                  idempotency_key=key)
    assert (again.id, created_again) == (job.id, False)


def test_an_empty_batch_is_refused_and_leaves_nothing(
    store: TrackedStore, batches: BatchStore
) -> None:
    key = f"empty-{uuid.uuid4().hex}"
    with pytest.raises(EmptyBatch):
        batches.create_batch(iter([]), idempotency_key=key)
    assert store.find_by_key(key) is None


