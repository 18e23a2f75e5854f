"""Model versions, and the admin's manual promote and rollback."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import AdminDep, StateDep, shadow_of
from api.schemas import ModelsPublic, ModelVersionPublic, PromotionPublic, Version, problems
from core.errors import NoChampionError

router = APIRouter(tags=["models"])


@router.get("/v1/models", response_model=ModelsPublic)
def list_models(state: StateDep) -> ModelsPublic:
    """List registered versions with their aliases and test metrics."""
    versions = state.registry.list_versions()
    holder = state.champion
    return ModelsPublic(
        model_name=state.registry.model_name,
        champion=next((v.version for v in versions if "champion" in v.aliases), None),
        serving=holder.classifier.version if holder.loaded else None,
        versions=[ModelVersionPublic(
            version=v.version, aliases=v.aliases, run_id=v.run_id,
            created_at=dt.datetime.fromtimestamp(v.created_at, dt.UTC), metrics=v.metrics,
            shadow=shadow_of(state, v.version),
        ) for v in versions],
    )


@router.post("/v1/models/{version}/promote", response_model=PromotionPublic,
             dependencies=[AdminDep], responses=problems(401, 403, 404, 409))
def promote(
    version: Version, state: StateDep,
    force: Annotated[bool, Query(
        description="promote even if the shadow record's check fails")] = False,
) -> PromotionPublic:
    """Make a version the champion, unless its shadow record shows it did worse."""
    shadow = shadow_of(state, version)
    check = None if shadow is None else shadow["promotion_check"]
    if check is not None and not check["passed"] and not force:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"v{version} not promoted: {check['reason']}; "
                            "add ?force=true to promote it anyway")
    previous = state.registry.promote(version)
    state.champion.refresh()  # this process at once; the others on their next poll
    return PromotionPublic(champion=version, previous=previous, shadow=shadow)


@router.post("/v1/models/rollback", response_model=PromotionPublic, dependencies=[AdminDep],
             responses=problems(401, 403, 404))
def rollback(state: StateDep) -> PromotionPublic:
    """Restore the champion that the current one replaced."""
    current = state.registry.champion_version()
    try:
        restored = state.registry.rollback()
    except NoChampionError as exc:  # nothing to roll back to; a retry cannot help
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    state.champion.refresh()
    return PromotionPublic(champion=restored, previous=current)
