"""What monitoring keeps in the job store: live drift profiles and the challenger's shadow record.

Both are bounded. Live profiles leave the window after DRIFT_WINDOW_HOURS and beyond
DRIFT_WINDOW_MAX_PROFILES (oldest first); a challenger keeps its running tallies (names compared,
names agreed on) and at most SHADOW_MAX_DISAGREEMENTS of the names it disagreed on, newest kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core import db
from core.db import (
    as_utc,
    drift_profiles_table,
    shadow_disagreements_table,
    shadow_tallies_table,
    transaction,
)
from core.drift import Profile


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Window:
    """The live profiles of one model version within the window, added up."""

    model_version: int
    profile: Profile
    profiles: int
    start: dt.datetime | None
    end: dt.datetime | None
    sources: dict[str, int] = field(default_factory=dict)  # rows by source


@dataclass(frozen=True)
class Disagreement:
    name: str
    champion_category: str
    challenger_category: str
    champion_confidence: float | None
    challenger_confidence: float | None
    source: str
    champion_version: int
    created_at: dt.datetime | None = None


class MonitoringStore:
    """Drift profiles and shadow records over the job store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """The tables live in the job database's schema (core.db); this brings it up to date."""
        db.upgrade(self.engine)

    # -- drift -----------------------------------------------------------------------------------

    def add_profile(self, *, model_version: int, source: str, profile: Profile,
                    keep_for: dt.timedelta, max_profiles: int) -> None:
        """Store a live profile and drop what fell out of the window."""
        if profile.rows == 0:
            return
        table = drift_profiles_table
        now = _now()
        with transaction(self.engine) as connection:
            connection.execute(table.insert().values(
                model_version=model_version, source=source, created_at=now,
                rows=profile.rows, profile=profile.as_dict()))
            connection.execute(table.delete().where(table.c.created_at < now - keep_for))
            cutoff = connection.execute(
                sa.select(table.c.id).order_by(table.c.id.desc())
                .offset(max_profiles).limit(1)).scalar_one_or_none()
            if cutoff is not None:
                connection.execute(table.delete().where(table.c.id <= cutoff))

    def window(self, model_version: int, *, since: dt.datetime) -> Window:
        table = drift_profiles_table
        with transaction(self.engine) as connection:
            rows = connection.execute(
                sa.select(table.c.source, table.c.created_at, table.c.profile)
                .where(table.c.model_version == model_version, table.c.created_at >= since)
                .order_by(table.c.id)).all()
        total = Profile()
        sources: dict[str, int] = {}
        for row in rows:
            part = Profile.from_dict(row.profile)
            total = total.merge(part)
            sources[row.source] = sources.get(row.source, 0) + part.rows
        times = [as_utc(r.created_at) for r in rows]
        return Window(model_version=model_version, profile=total, profiles=len(rows),
                      start=min(times, default=None), end=max(times, default=None),
                      sources=sources)

    # -- shadow ----------------------------------------------------------------------------------

    def add_shadow(self, *, challenger_version: int, champion_version: int, compared: int,
                   agreed: int, disagreements: Sequence[Disagreement], keep: int) -> None:
        """Add to a challenger's tallies and keep its newest `keep` disagreements."""
        tallies = shadow_tallies_table
        kept = shadow_disagreements_table
        key = (tallies.c.challenger_version == challenger_version,
               tallies.c.champion_version == champion_version)
        now = _now()
        with transaction(self.engine) as connection:
            updated = connection.execute(tallies.update().where(*key).values(
                compared=tallies.c.compared + compared, agreed=tallies.c.agreed + agreed,
                updated_at=now)).rowcount
            if not updated:
                try:
                    with connection.begin_nested():
                        connection.execute(tallies.insert().values(
                            challenger_version=challenger_version,
                            champion_version=champion_version, compared=compared,
                            agreed=agreed, updated_at=now))
                except sa.exc.IntegrityError:  # another process inserted it first
                    connection.execute(tallies.update().where(*key).values(
                        compared=tallies.c.compared + compared,
                        agreed=tallies.c.agreed + agreed, updated_at=now))
            if disagreements:
                connection.execute(kept.insert(), [{
                    "challenger_version": challenger_version,
                    "champion_version": d.champion_version, "name": d.name[:1000],
                    "champion_category": d.champion_category,
                    "challenger_category": d.challenger_category,
                    "champion_confidence": d.champion_confidence,
                    "challenger_confidence": d.challenger_confidence, "source": d.source,
                    "created_at": now} for d in disagreements])
                cutoff = connection.execute(
                    sa.select(kept.c.id).where(kept.c.challenger_version == challenger_version)
                    .order_by(kept.c.id.desc()).offset(keep).limit(1)).scalar_one_or_none()
                if cutoff is not None:
                    connection.execute(kept.delete().where(
                        kept.c.challenger_version == challenger_version, kept.c.id <= cutoff))

    def shadow_tallies(self, challenger_version: int) -> dict[str, Any] | None:
        """{"compared", "agreed", "champion_versions", "updated_at"}, or None if never run."""
        tallies = shadow_tallies_table
        with transaction(self.engine) as connection:
            rows = connection.execute(sa.select(tallies).where(
                tallies.c.challenger_version == challenger_version)).mappings().all()
        if not rows:
            return None
        return {"compared": sum(r["compared"] for r in rows),
                "agreed": sum(r["agreed"] for r in rows),
                "champion_versions": sorted(r["champion_version"] for r in rows),
                "updated_at": max(as_utc(r["updated_at"]) for r in rows)}

    def disagreements(self, challenger_version: int, *, limit: int | None = None
                      ) -> list[Disagreement]:
        """The kept disagreements, newest first."""
        kept = shadow_disagreements_table
        query = (sa.select(kept).where(kept.c.challenger_version == challenger_version)
                 .order_by(kept.c.id.desc()))
        if limit is not None:
            query = query.limit(limit)
        with transaction(self.engine) as connection:
            rows = connection.execute(query).mappings().all()
        return [Disagreement(
            name=r["name"], champion_category=r["champion_category"],
            challenger_category=r["challenger_category"],
            champion_confidence=r["champion_confidence"],
            challenger_confidence=r["challenger_confidence"], source=r["source"],
            champion_version=r["champion_version"], created_at=as_utc(r["created_at"]),
        ) for r in rows]
