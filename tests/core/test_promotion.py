"""The promotion gate as a pure function: a comparison decides, an outage never does."""

from __future__ import annotations

import pytest

from core.errors import NoChampionError, RegistryError, RegistryUnavailable, StoreUnavailable
from core.promotion import (
    PromotionGate,
    ShadowRule,
    champion_unloadable,
    compare,
    first_model,
    shadow_check,
)

TRUTH = ["Plomería"] * 30 + ["Eléctrico"] * 30
RIGHT = list(TRUTH)
# Wrong on every other row: a challenger with a macro-F1 far below the champion's.
BAD = [("Eléctrico" if t == "Plomería" else "Plomería") if i % 2 else t
       for i, t in enumerate(TRUTH)]


def test_a_clearly_better_challenger_is_promoted() -> None:
    verdict = compare(truth=TRUTH, challenger=RIGHT, champion=BAD, challenger_macro_f1=1.0,
                      champion_version=4, gate=PromotionGate())

    assert verdict.promote
    assert verdict.champion_version == 4
    assert verdict.champion_macro_f1 is not None
    assert verdict.champion_macro_f1 < 0.6
    assert verdict.p_value is not None
    assert verdict.p_value < 1e-6
    assert "vs champion v4" in verdict.reason


def test_a_worse_challenger_is_kept() -> None:
    verdict = compare(truth=TRUTH, challenger=BAD, champion=RIGHT, challenger_macro_f1=0.5,
                      champion_version=1, gate=PromotionGate())

    assert not verdict.promote
    assert verdict.champion_macro_f1 == pytest.approx(1.0)


def test_a_better_score_without_enough_evidence_is_kept() -> None:
    one_better = list(TRUTH)
    champion = list(TRUTH)
    champion[0] = "Eléctrico"  # the champion misses one row the challenger gets right
    verdict = compare(truth=TRUTH, challenger=one_better, champion=champion,
                      challenger_macro_f1=1.0, champion_version=1, gate=PromotionGate())

    assert not verdict.promote  # one disagreement: p = 0.5, far above alpha
    assert verdict.p_value == pytest.approx(0.5)
    assert "required <= 0.05" in verdict.reason


def test_the_first_model_is_promoted_without_comparison() -> None:
    verdict = first_model()

    assert verdict.promote
    assert verdict.champion_version is None
    assert "no champion" in verdict.reason


@pytest.mark.parametrize("error", [
    RegistryUnavailable("model registry unavailable: connection refused"),
    StoreUnavailable("job database unavailable"),
    TimeoutError("artifact download timed out"),
    RegistryError("model 'm' has no version 3"),
    OSError("broken artifact"),
])
def test_a_champion_that_cannot_be_loaded_never_lets_a_challenger_through(
    error: Exception,
) -> None:
    verdict = champion_unloadable(error)

    assert not verdict.promote
    assert error.__class__.__name__ in verdict.reason
    assert str(error) in verdict.reason
    assert "kept as challenger" in verdict.reason


def test_no_champion_is_neither_an_outage_nor_a_bad_request() -> None:
    from core.errors import InvalidRequest, Unavailable

    assert not issubclass(NoChampionError, Unavailable | InvalidRequest)


def _labelled(champion_right: int, challenger_right: int, neither: int = 0) -> dict[str, int]:
    return {"names": champion_right + challenger_right + neither,
            "champion_right": champion_right, "challenger_right": challenger_right,
            "neither_right": neither}


@pytest.mark.parametrize(("labelled", "passed", "says"), [
    # 15 to 5 on 20 names: p = 0.021 that the champion is better
    (_labelled(15, 5), False, "the challenger did worse"),
    (_labelled(15, 5, neither=5), False, "the challenger did worse"),
    (_labelled(13, 7), True, "no sign the challenger is worse"),  # p = 0.13
    (_labelled(5, 15), True, "no sign the challenger is worse"),  # the challenger better
    (_labelled(0, 0, neither=20), True, "no sign the challenger is worse"),
    (_labelled(19, 0), True, "not enough to judge"),  # however lopsided, too few names
])
def test_the_shadow_check_refuses_a_challenger_clearly_worse_on_labelled_names(
    labelled: dict[str, int], passed: bool, says: str,
) -> None:
    check = shadow_check(labelled, ShadowRule(min_names=20, alpha=0.05))

    assert check.passed is passed
    assert says in check.reason
    assert f"the champion was right on {labelled['champion_right']}" in check.reason
