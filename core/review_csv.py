"""The review queue as a spreadsheet: pending items out as CSV, decisions back in.

The export has one line per item with two empty columns for the reviewer: `category` (the
proposed one accepts it, another corrects it) and `skip` (yes/true/1 skips it). A line left with
both empty is left as it is. The import checks every line first and applies nothing if any is
wrong (an unknown id, an unknown category, a line with both filled): a spreadsheet is fixed and
imported again, never half applied.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from core.review import ReviewItem, ReviewStore

EXPORT_COLUMNS = ["id", "job_id", "row", "name", "proposed", "confidence", "alternatives",
                  "category", "skip"]
_YES = {"yes", "y", "true", "1", "x", "sí", "si"}
_PAGE = 1000


class ImportRefused(ValueError):
    """A decisions file with lines that cannot be applied; none was."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more"
                                            if len(problems) > 10 else "")
        super().__init__(f"nothing imported: {shown}")


@dataclass
class ImportReport:
    accepted: int = 0
    corrected: int = 0
    skipped: int = 0
    untouched: int = 0
    problems: list[str] = field(default_factory=list)


def iter_items(store: ReviewStore, *, job_id: str | None,
               state: str | None) -> Iterator[ReviewItem]:
    """Every item matching the filters, least confident first, read a page at a time."""
    offset = 0
    while True:
        page = store.list_items(job_id=job_id, state=state, offset=offset, limit=_PAGE)
        yield from page.items
        if len(page.items) < _PAGE:
            return
        offset += _PAGE


def export_lines(items: Iterable[ReviewItem]) -> Iterator[str]:
    """The export CSV, a block of lines at a time (formula cells neutralised)."""
    from core.batch import neutralise

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for item in items:
        alternatives = " | ".join(f"{entry['category']} {entry['confidence']:.3f}"
                                  for entry in item.top_k[1:])
        writer.writerow([item.id, item.job_id, item.row, neutralise(item.name),
                         neutralise(item.category), item.confidence, neutralise(alternatives),
                         "", ""])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def import_decisions(store: ReviewStore, stream: IO[str], *, by: str,
                     is_known: Callable[[str], bool]) -> ImportReport:
    """Apply the decisions of an edited export; raises ImportRefused (applying none) when any
    line is wrong. `is_known` says whether a category may be named."""
    reader = csv.DictReader(stream)
    missing = {"id", "category", "skip"} - set(reader.fieldnames or [])
    if missing:
        raise ImportRefused([f"the header lacks the column(s) {', '.join(sorted(missing))}"])
    report = ImportReport()
    wanted: list[tuple[int, int, str | None]] = []  # (line, item id, category or None: skip)
    problems: list[str] = []
    for line, record in enumerate(reader, start=2):
        category = _strip_quote(record.get("category") or "").strip()
        skip = (record.get("skip") or "").strip().lower()
        if not category and not skip:
            report.untouched += 1
            continue
        try:
            item_id = int((record.get("id") or "").strip())
        except ValueError:
            problems.append(f"line {line}: the id {record.get('id')!r} is not a number")
            continue
        if category and skip:
            problems.append(f"line {line}: give a category or skip, not both")
        elif skip and skip not in _YES:
            problems.append(f"line {line}: skip is {skip!r}; write yes to skip the item")
        else:
            wanted.append((line, item_id, category or None))
    found = {item.id: item for item in store.items_by_id([i for _, i, _ in wanted])}
    checked: set[str] = set()
    for line, item_id, chosen in wanted:
        item = found.get(item_id)
        if item is None:
            problems.append(f"line {line}: no review item with id {item_id}")
        elif (chosen is not None and chosen != item.category
              and chosen not in {entry.get("category") for entry in item.top_k}
              and chosen not in checked):
            if is_known(chosen):
                checked.add(chosen)
            else:
                problems.append(f"line {line}: unknown category {chosen!r}")
    if problems:
        raise ImportRefused(problems)
    for _, item_id, chosen in wanted:
        decided = store.decide(item_id, by=by, category=chosen, skip=chosen is None,
                               also_known=checked)
        if decided.state == "accepted":
            report.accepted += 1
        elif decided.state == "corrected":
            report.corrected += 1
        else:
            report.skipped += 1
    return report


def _strip_quote(cell: str) -> str:
    """Undo the export's formula guard on a value copied from a neutralised cell."""
    return cell[1:] if cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@") else cell
