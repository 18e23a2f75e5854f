"""The review loop's store: review items, decisions, labels and the categories a person may pick.

A batch row the model sends to a person (decision `review`) becomes a review item when its
chunk's results are stored, in the same transaction, so a chunk stored twice makes its items
once. A reviewer accepts the proposed category, corrects it, or skips the item; each decision
is kept in a history table, and the item carries the latest one. Every accept or correction is
also a label (name, category, provenance), and so is every catalog row a training job read:
training learns from the labels (core.labels), and batch results show the final category.

Everything that can grow with a store (items, labels, categories) is filtered, counted and paged
in SQL, never loaded whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.batch_store import InputRow, ResultRow, RowResult
from core.data import duplicate_key
from core.db import (
    as_utc,
    categories_table,
    chunks_table,
    connect,
    labels_table,
    review_decisions_table,
    review_items_table,
    transaction,
)
from core.errors import InvalidRequest, NotFound

ReviewState = Literal["pending", "accepted", "corrected", "skipped"]
REVIEW_STATES: tuple[ReviewState, ...] = ("pending", "accepted", "corrected", "skipped")
DECIDED_STATES = ("accepted", "corrected")  # the states that give a label
LabelSource = Literal["review", "catalog"]

class ReviewItemNotFound(NotFound):
    """No review item with that id (never made, or its job expired)."""


class UnknownCategory(InvalidRequest):
    """A category neither the model knows nor an admin has added."""


@dataclass(frozen=True)
class ReviewItem:
    id: int
    job_id: str
    row: int
    name: str
    category: str
    confidence: float
    top_k: list[dict[str, Any]]
    model_version: int | None
    state: str
    decided_category: str | None
    decided_at: dt.datetime | None
    decided_by: str | None


@dataclass(frozen=True)
class ReviewDecision:
    state: str
    category: str | None
    decided_by: str
    decided_at: dt.datetime
    model_version: int | None


@dataclass(frozen=True)
class Label:
    id: int
    name: str
    category: str
    source: str
    job_id: str | None
    model_version: int | None
    decided_by: str | None
    decided_at: dt.datetime


@dataclass(frozen=True)
class Category:
    name: str
    source: str
    model_version: int | None


@dataclass(frozen=True)
class Page:
    """One page of a longer list, and the length of the whole list."""

    total: int
    items: list[Any]


@dataclass(frozen=True)
class NewItem:
    """A batch row the model sent to review, as the chunk's results are stored."""

    row: int
    name: str
    category: str
    confidence: float
    top_k: list[dict[str, Any]]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _when(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def review_items_writer(
    job_id: str, idx: int, inputs: Sequence[InputRow], results: Sequence[RowResult], *,
    model_version: int | None,
) -> Callable[[sa.Connection], None]:
    """What stores chunk `idx`'s review items: every row whose decision is `review`.

    Handed to JobStore.put_result, which runs it in the transaction that stores the chunk's
    results: a chunk stored twice (a redelivered message) makes its items once.
    """

    def write(connection: sa.Connection) -> None:
        wanted = [i for i, result in enumerate(results)
                  if result.decision == "review" and result.category is not None]
        if not wanted:
            return
        first_row = connection.execute(
            sa.select(chunks_table.c.first_row)
            .where(chunks_table.c.job_id == job_id, chunks_table.c.idx == idx)
        ).scalar_one()
        items = []
        for i in wanted:
            result = results[i]
            items.append(NewItem(
                row=first_row + i, name=inputs[i].name, category=str(result.category),
                confidence=float(result.confidence or 0.0),
                top_k=[{"category": c, "confidence": s} for c, s in result.top_k or ()]))
        insert_review_items(connection, job_id, items, model_version=model_version)

    return write


def insert_review_items(connection: sa.Connection, job_id: str, items: Sequence[NewItem], *,
                        model_version: int | None) -> None:
    """Add a chunk's review rows; called inside the transaction that stores the chunk's results,
    so a chunk stored twice (a redelivered message) makes its items once."""
    if not items:
        return
    now = _now()
    connection.execute(review_items_table.insert(), [
        {"job_id": job_id, "row": item.row, "name": item.name, "category": item.category,
         "confidence": item.confidence, "top_k": item.top_k, "model_version": model_version,
         "state": "pending", "created_at": now}
        for item in items
    ])


class ReviewStore:
    """Review items, their decisions, labels and known categories, over the job store's engine."""

    def __init__(self, engine: Engine, *,
                 on_labels: Callable[[int], None] | None = None) -> None:
        self.engine = engine
        self._synced_versions: set[int] = set()
        # told how many labels each committed decision wrote (the API counts them in /metrics)
        self._on_labels = on_labels or (lambda n: None)

    def _begin(self) -> AbstractContextManager[sa.Connection]:
        return transaction(self.engine)

    # -- the queue -----------------------------------------------------------------------------

    def add_items(self, job_id: str, items: Sequence[NewItem], *,
                  model_version: int | None) -> None:
        with self._begin() as connection:
            insert_review_items(connection, job_id, items, model_version=model_version)

    def list_items(
        self, *, job_id: str | None = None, category: str | None = None,
        min_confidence: float | None = None, max_confidence: float | None = None,
        state: str | None = None, offset: int = 0, limit: int = 50,
    ) -> Page:
        """Items matching every filter given, least confident first, one page of them."""
        table = review_items_table
        where = []
        if job_id is not None:
            where.append(table.c.job_id == job_id)
        if category is not None:
            where.append(table.c.category == category)
        if min_confidence is not None:
            where.append(table.c.confidence >= min_confidence)
        if max_confidence is not None:
            where.append(table.c.confidence <= max_confidence)
        if state is not None:
            where.append(table.c.state == state)
        with self._begin() as connection:
            total = connection.execute(
                sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
            rows = connection.execute(
                sa.select(table).where(*where)
                .order_by(table.c.confidence, table.c.id).offset(offset).limit(limit)
            ).mappings().all()
        return Page(total=int(total), items=[_item(row) for row in rows])

    def get_item(self, item_id: int) -> ReviewItem:
        with self._begin() as connection:
            row = connection.execute(
                sa.select(review_items_table).where(review_items_table.c.id == item_id)
            ).mappings().first()
        if row is None:
            raise ReviewItemNotFound(item_id)
        return _item(row)

    def history(self, item_id: int) -> list[ReviewDecision]:
        """Every decision taken on an item, oldest first."""
        table = review_decisions_table
        with self._begin() as connection:
            rows = connection.execute(
                sa.select(table).where(table.c.item_id == item_id).order_by(table.c.id)
            ).mappings().all()
        return [ReviewDecision(state=r["state"], category=r["category"],
                               decided_by=r["decided_by"], decided_at=_when(r["decided_at"]),
                               model_version=r["model_version"]) for r in rows]

    def decide(self, item_id: int, *, by: str, category: str | None = None,
               skip: bool = False, also_known: Container[str] = ()) -> ReviewItem:
        """Accept (the proposed category), correct (another known one) or skip an item.

        A decision replaces the item's earlier one; the history keeps both. Raises
        ReviewItemNotFound, or UnknownCategory for a category the model does not know and no
        admin has added (nor is in `also_known`: the caller checked it otherwise).
        """
        if skip == (category is not None):
            raise ValueError("give a category or skip, not both")
        with self._begin() as connection:
            row = connection.execute(
                sa.select(review_items_table).where(review_items_table.c.id == item_id)
                .with_for_update()
            ).mappings().first()
            if row is None:
                raise ReviewItemNotFound(item_id)
            item = _item(row)
            if category is not None and category != item.category:
                offered = {entry.get("category") for entry in item.top_k}
                if (category not in offered and category not in also_known
                        and not _is_known(connection, category)):
                    raise UnknownCategory(
                        f"unknown category {category!r}: choose one the model knows "
                        "(GET /v1/categories) or ask an admin to add it")
            _apply(connection, [(item, category)], by=by, now=_now())
        if not skip:
            self._on_labels(1)
        return self.get_item(item_id)

    def reopen(self, item_id: int, *, by: str) -> ReviewItem:
        """Take back an item's decision (the console's undo): pending again, its label gone;
        the history records the reopening as a `pending` entry."""
        table = review_items_table
        with self._begin() as connection:
            row = connection.execute(
                sa.select(table).where(table.c.id == item_id).with_for_update()
            ).mappings().first()
            if row is None:
                raise ReviewItemNotFound(item_id)
            item = _item(row)
            connection.execute(table.update().where(table.c.id == item_id).values(
                state="pending", decided_category=None, decided_at=None, decided_by=None))
            connection.execute(review_decisions_table.insert().values(
                item_id=item_id, state="pending", category=None, decided_by=by,
                decided_at=_now(), model_version=item.model_version))
            connection.execute(labels_table.delete().where(labels_table.c.item_id == item_id))
        return self.get_item(item_id)

    def accept(self, item_ids: Sequence[int], *, by: str) -> list[ReviewItem]:
        """Accept the proposed category of every listed item, all or none."""
        ids = list(dict.fromkeys(item_ids))
        table = review_items_table
        with self._begin() as connection:
            rows = connection.execute(
                sa.select(table).where(table.c.id.in_(ids)).order_by(table.c.id)
                .with_for_update()
            ).mappings().all()
            found = {row["id"] for row in rows}
            missing = [i for i in ids if i not in found]
            if missing:
                shown = ", ".join(map(str, missing[:20]))
                raise ReviewItemNotFound(f"no review item with id {shown}")
            items = [_item(row) for row in rows]
            _apply(connection, [(item, item.category) for item in items], by=by, now=_now())
        self._on_labels(len(items))
        return self.items_by_id(ids)

    def items_by_id(self, ids: Sequence[int]) -> list[ReviewItem]:
        table = review_items_table
        with self._begin() as connection:
            rows = connection.execute(
                sa.select(table).where(table.c.id.in_(list(ids)))).mappings().all()
        by_id = {row["id"]: _item(row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def decided_rows(self, job_id: str, first: int, last: int) -> dict[int, str]:
        """The final category of a job's decided rows in [first, last]."""
        table = review_items_table
        with self._begin() as connection:
            rows = connection.execute(
                sa.select(table.c.row, table.c.decided_category)
                .where(table.c.job_id == job_id, table.c.row >= first, table.c.row <= last,
                       table.c.state.in_(DECIDED_STATES))
            ).all()
        return {row.row: row.decided_category for row in rows}

    def with_decisions(self, job_id: str, rows: Iterable[ResultRow], *,
                       block: int = 5000) -> Iterator[ResultRow]:
        """Batch result rows with the reviewers' decisions applied: the final category, and
        `source` "review" where a person gave it. One query per `block` rows."""
        pending: list[ResultRow] = []

        def flush() -> Iterator[ResultRow]:
            decided = self.decided_rows(job_id, pending[0].row, pending[-1].row)
            for row in pending:
                category = decided.get(row.row)
                yield row if category is None else replace(row, category=category,
                                                           source="review")

        for row in rows:
            pending.append(row)
            if len(pending) >= block:
                yield from flush()
                pending = []
        if pending:
            yield from flush()

    # -- categories ----------------------------------------------------------------------------

    def sync_model_categories(self, version: int, classes: Iterable[str]) -> None:
        """Record the categories a model version knows (once per version per process)."""
        if version in self._synced_versions:
            return
        names = list(dict.fromkeys(classes))
        now = _now()
        with self._begin() as connection:
            for start in range(0, len(names), 500):
                part = names[start:start + 500]
                known = set(connection.execute(
                    sa.select(categories_table.c.name)
                    .where(categories_table.c.name.in_(part))).scalars())
                new = [{"name": n, "source": "model", "model_version": version,
                        "added_by": None, "added_at": now} for n in part if n not in known]
                if new:
                    connection.execute(_insert_ignoring_duplicates(connection), new)
        self._synced_versions.add(version)

    def add_category(self, name: str, *, by: str) -> tuple[Category, bool]:
        """An admin's new category; returns (category, created)."""
        with self._begin() as connection:
            existing = connection.execute(
                sa.select(categories_table).where(categories_table.c.name == name)
            ).mappings().first()
            if existing is not None:
                return _category(existing), False
            connection.execute(_insert_ignoring_duplicates(connection), [
                {"name": name, "source": "admin", "model_version": None, "added_by": by,
                 "added_at": _now()}])
        return Category(name=name, source="admin", model_version=None), True

    def list_categories(self, *, q: str | None = None, offset: int = 0,
                        limit: int = 50) -> Page:
        """Known categories in name order; `q` keeps those containing it (any case)."""
        table = categories_table
        where = [table.c.name.icontains(q, autoescape=True)] if q else []
        with self._begin() as connection:
            total = connection.execute(
                sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
            rows = connection.execute(
                sa.select(table).where(*where).order_by(table.c.name)
                .offset(offset).limit(limit)
            ).mappings().all()
        return Page(total=int(total), items=[_category(row) for row in rows])

    def is_known(self, category: str) -> bool:
        with self._begin() as connection:
            return _is_known(connection, category)

    # -- labels --------------------------------------------------------------------------------

    def list_labels(self, *, source: str | None = None, job_id: str | None = None,
                    offset: int = 0, limit: int = 100) -> Page:
        table = labels_table
        where = _label_filters(source=source, job_id=job_id)
        with self._begin() as connection:
            total = connection.execute(
                sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
            rows = connection.execute(
                sa.select(table).where(*where).order_by(table.c.id).offset(offset).limit(limit)
            ).mappings().all()
        return Page(total=int(total), items=[_label(row) for row in rows])

    def iter_labels(self, *, source: str | None = None,
                    job_id: str | None = None) -> Iterator[Label]:
        """Every label in id order, streamed from the database (never all in memory)."""
        table = labels_table
        query = (sa.select(table).where(*_label_filters(source=source, job_id=job_id))
                 .order_by(table.c.id))
        with connect(self.engine) as connection:
            result = connection.execution_options(stream_results=True, yield_per=1000)
            for row in result.execute(query).mappings():
                yield _label(row)

    def labels_since(self, since: dt.datetime, *, source: LabelSource = "review") -> int:
        """How many labels of `source` were decided after `since` (a re-decided item counts
        once, at its latest decision): the count behind RETRAIN_AFTER_LABELS."""
        table = labels_table
        with self._begin() as connection:
            return int(connection.execute(
                sa.select(sa.func.count()).select_from(table)
                .where(table.c.source == source, table.c.decided_at > since)
            ).scalar_one())

    def latest_reviews(self, names: Iterable[str]) -> dict[str, Label]:
        """The latest review label of each name that has one, keyed by normalized name
        (core.data.duplicate_key): what a person last said these names are."""
        table = labels_table
        keys = sorted({duplicate_key(name) for name in names})
        latest: dict[str, Label] = {}
        with self._begin() as connection:
            for start in range(0, len(keys), 500):  # bounded IN lists
                rows = connection.execute(
                    sa.select(table).where(table.c.source == "review",
                                           table.c.name_key.in_(keys[start:start + 500]))
                ).mappings().all()
                for row in rows:
                    label = _label(row)
                    kept = latest.get(row["name_key"])
                    if kept is None or (label.decided_at, label.id) > (kept.decided_at, kept.id):
                        latest[row["name_key"]] = label
        return latest

    def record_catalog(self, pairs: Iterable[tuple[str, str]], *, job_id: str | None) -> int:
        """Store a training catalog's (name, category) rows as `catalog` labels.

        A name already stored under the same category keeps its label and its time: the time a
        catalog first said so is when the catalog decided, which is what a reviewer's later
        decision is compared with. Returns how many labels were new.
        """
        rows: dict[tuple[str, str], str] = {}
        for name, category in pairs:
            rows.setdefault((duplicate_key(name), category), name)
        table = labels_table
        now = _now()
        added = 0
        with self._begin() as connection:
            keys = list(rows)
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                stored = {(row.name_key, row.category) for row in connection.execute(
                    sa.select(table.c.name_key, table.c.category)
                    .where(table.c.source == "catalog",
                           table.c.name_key.in_({key for key, _ in part})))}
                new = [{"name": rows[key], "name_key": key[0], "category": key[1],
                        "source": "catalog", "job_id": job_id, "model_version": None,
                        "decided_by": None, "decided_at": now, "item_id": None}
                       for key in part if key not in stored]
                if new:
                    connection.execute(table.insert(), new)
                    added += len(new)
        return added

    def catalog_times(self, name_keys: Iterable[str]) -> dict[tuple[str, str], dt.datetime]:
        """When the catalog first filed each of these names under each of its categories."""
        table = labels_table
        keys = list(dict.fromkeys(name_keys))
        times: dict[tuple[str, str], dt.datetime] = {}
        with self._begin() as connection:
            for start in range(0, len(keys), 500):
                for row in connection.execute(
                    sa.select(table.c.name_key, table.c.category,
                              sa.func.min(table.c.decided_at).label("decided_at"))
                    .where(table.c.source == "catalog",
                           table.c.name_key.in_(keys[start:start + 500]))
                    .group_by(table.c.name_key, table.c.category)
                ):
                    times[(row.name_key, row.category)] = _when(row.decided_at)
        return times


# -- helpers -------------------------------------------------------------------------------------


def _apply(connection: sa.Connection, decisions: list[tuple[ReviewItem, str | None]], *,
           by: str, now: dt.datetime) -> None:
    """Record decisions: (item, category) accepts or corrects the item, (item, None) skips it.

    Each write is one multi-row statement (executemany) whatever the number of items: a bulk
    accept of a thousand items is a few statements, not thousands of round trips.
    """
    if not decisions:
        return
    rows = []
    for item, category in decisions:
        state = ("skipped" if category is None else
                 "accepted" if category == item.category else "corrected")
        rows.append({"b_id": item.id, "b_state": state, "b_category": category,
                     "b_version": item.model_version})
    table = review_items_table
    connection.execute(
        table.update().where(table.c.id == sa.bindparam("b_id")).values(
            state=sa.bindparam("b_state"), decided_category=sa.bindparam("b_category"),
            decided_at=now, decided_by=by),
        rows)
    connection.execute(review_decisions_table.insert(), [
        {"item_id": r["b_id"], "state": r["b_state"], "category": r["b_category"],
         "decided_by": by, "decided_at": now, "model_version": r["b_version"]} for r in rows])

    label = labels_table
    skipped = [item.id for item, category in decisions if category is None]
    if skipped:  # a skipped item teaches nothing: its earlier label goes
        connection.execute(label.delete().where(label.c.item_id.in_(skipped)))
    labels = [{"b_item_id": item.id, "name": item.name, "name_key": duplicate_key(item.name),
               "category": category, "source": "review", "job_id": item.job_id,
               "model_version": item.model_version, "decided_by": by, "decided_at": now}
              for item, category in decisions if category is not None]
    if not labels:
        return
    labelled = set(connection.execute(sa.select(label.c.item_id).where(
        label.c.item_id.in_([row["b_item_id"] for row in labels]))).scalars())
    replaced = [row for row in labels if row["b_item_id"] in labelled]
    if replaced:  # deciding again replaces the label in place (its id and place stay)
        connection.execute(
            label.update().where(label.c.item_id == sa.bindparam("b_item_id"))
            .values({key: sa.bindparam(key) for key in labels[0] if key != "b_item_id"}),
            replaced)
    new = [{**{k: v for k, v in row.items() if k != "b_item_id"}, "item_id": row["b_item_id"]}
           for row in labels if row["b_item_id"] not in labelled]
    if new:
        connection.execute(label.insert(), new)


def _is_known(connection: sa.Connection, category: str) -> bool:
    return connection.execute(
        sa.select(categories_table.c.name).where(categories_table.c.name == category)
    ).first() is not None


def _insert_ignoring_duplicates(connection: sa.Connection) -> Any:
    """An INSERT that skips rows whose key another process inserted meanwhile."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(categories_table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(categories_table).on_conflict_do_nothing()
    return categories_table.insert()


def _label_filters(*, source: str | None, job_id: str | None) -> list[Any]:
    where = []
    if source is not None:
        where.append(labels_table.c.source == source)
    if job_id is not None:
        where.append(labels_table.c.job_id == job_id)
    return where


def _item(row: Any) -> ReviewItem:
    return ReviewItem(
        id=row["id"], job_id=row["job_id"], row=row["row"], name=row["name"],
        category=row["category"], confidence=row["confidence"], top_k=list(row["top_k"] or []),
        model_version=row["model_version"], state=row["state"],
        decided_category=row["decided_category"], decided_at=as_utc(row["decided_at"]),
        decided_by=row["decided_by"],
    )


def _label(row: Any) -> Label:
    return Label(id=row["id"], name=row["name"], category=row["category"], source=row["source"],
                 job_id=row["job_id"], model_version=row["model_version"],
                 decided_by=row["decided_by"], decided_at=_when(row["decided_at"]))


def _category(row: Any) -> Category:
    return Category(name=row["name"], source=row["source"], model_version=row["model_version"])


LABEL_CSV_COLUMNS = ["id", "name", "category", "source", "job_id", "model_version",
                     "decided_by", "decided_at"]


def labels_csv_lines(labels: Iterable[Label]) -> Iterator[str]:
    """Labels as CSV, a block of lines at a time, formula cells neutralised."""
    from core.batch import neutralise

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(LABEL_CSV_COLUMNS)
    for label in labels:
        writer.writerow([label.id, neutralise(label.name), neutralise(label.category),
                         label.source, label.job_id or "",
                         "" if label.model_version is None else label.model_version,
                         label.decided_by or "", label.decided_at.isoformat()])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
