"""The promotion gate: whether a new model (the challenger) replaces the champion.

A retrained model is registered as `challenger`; it becomes `champion` only when, on the new
run's frozen test split, its macro-F1 beats the champion's by more than `min_delta` AND an exact
one-sided McNemar test on the same rows says it errs less often (p <= `alpha`). On a few hundred
rows a macro-F1 difference of a point is often one or two products; the paired test only counts
rows where the two models disagree, so a champion is not swapped for a model that is merely
luckier on this split. `alpha=1` turns the test off.

Without a comparison nothing is promoted, except the very first model (no champion yet). A
champion that cannot be loaded (the registry or its artifact store is down, or the artifact is
broken) leaves the new model a challenger, with a reason that says so: an outage is not a verdict.

A version that has been a challenger for a while also has a shadow record (core.shadow): how it
and the champion fared on live names a reviewer labelled. `shadow_check` reads it for a
promotion by hand: a challenger that did clearly worse there is refused unless forced.

Pure functions over predictions and metrics; `core.registry` reads the models and moves aliases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy.stats import binomtest

from core.evaluation import mcnemar_p_value, score


@dataclass(frozen=True)
class PromotionGate:
    min_delta: float = 0.0
    alpha: float = 0.05


@dataclass(frozen=True)
class Verdict:
    """What the gate decided, and why, before any alias moves."""

    promote: bool
    reason: str
    champion_version: int | None = None
    champion_macro_f1: float | None = None
    p_value: float | None = None


@dataclass(frozen=True)
class PromotionDecision:
    version: int
    run_id: str
    promoted: bool
    reason: str
    macro_f1: float
    champion_version: int | None = None
    champion_macro_f1: float | None = None
    p_value: float | None = None


def first_model() -> Verdict:
    """No champion yet: the first model is promoted without a comparison."""
    return Verdict(promote=True, reason="first model: no champion yet")


def champion_unloadable(error: BaseException) -> Verdict:
    """The champion exists but cannot be loaded: the new model stays challenger."""
    return Verdict(
        promote=False,
        reason=(f"kept as challenger: the champion could not be loaded for the comparison "
                f"({error.__class__.__name__}: {error}); train again once the model registry "
                "is reachable, or promote this version by hand"),
    )


def compare(
    *, truth: Sequence[str], challenger: Sequence[str], champion: Sequence[str],
    challenger_macro_f1: float, champion_version: int, gate: PromotionGate,
) -> Verdict:
    """Compare the challenger's and the champion's predictions on the same test rows."""
    old_f1 = float(score(truth, champion)["macro_f1"])
    new_only, old_only, p_value = mcnemar_p_value(truth, champion, challenger)
    delta = challenger_macro_f1 - old_f1
    better = delta > gate.min_delta and p_value <= gate.alpha
    reason = (
        f"macro-F1 {challenger_macro_f1:.4f} vs champion v{champion_version} {old_f1:.4f} "
        f"(delta {delta:+.4f}, required > {gate.min_delta:g}); McNemar: new right on "
        f"{new_only} rows the champion missed, champion on {old_only}, p={p_value:.4g} "
        f"(required <= {gate.alpha:g})"
    )
    return Verdict(promote=better, reason=reason, champion_version=champion_version,
                   champion_macro_f1=old_f1, p_value=p_value)


@dataclass(frozen=True)
class ShadowRule:
    """When the shadow record stops a promotion (SHADOW_MIN_LABELLED, PROMOTION_ALPHA)."""

    min_names: int = 20
    alpha: float = 0.05


@dataclass(frozen=True)
class ShadowCheck:
    passed: bool
    reason: str


def shadow_check(labelled: Mapping[str, int], rule: ShadowRule) -> ShadowCheck:
    """Whether a challenger did worse than the champion on live names a reviewer labelled.

    The names are ones the two models disagreed on (core.shadow), so at most one of them is
    right on each: the same exact one-sided test as the gate's McNemar, here asking whether
    the champion is right more often. It fails only with at least `rule.min_names` labelled
    names and p <= `rule.alpha`; fewer names, or no clear difference, pass, and the frozen
    test split (the gate) stays the rule a promotion rests on.
    """
    names = labelled["names"]
    old, new = labelled["champion_right"], labelled["challenger_right"]
    counts = (f"on {names} disagreeing names a reviewer labelled, the champion was right on "
              f"{old}, the challenger on {new}")
    if names < rule.min_names:
        return ShadowCheck(True, f"{counts}: fewer than {rule.min_names}, not enough to judge")
    p_value = (float(binomtest(old, old + new, 0.5, alternative="greater").pvalue)
               if old + new else 1.0)
    worse = old > new and p_value <= rule.alpha
    return ShadowCheck(
        not worse,
        f"{counts} (p={p_value:.4g} that the champion is better, "
        f"{'<=' if worse else '>'} {rule.alpha:g}): "
        f"{'the challenger did worse' if worse else 'no sign the challenger is worse'}")
