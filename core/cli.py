"""`categorizer`: train, evaluate, predict and manage model versions from the command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

# Modules beyond the standard library (pydantic, scikit-learn, MLflow) are imported once the
# command line parsed, by what uses them: `categorizer --help` and a usage error answer at once.
if TYPE_CHECKING:
    from core.config import Settings
    from core.registry import Registry


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _weight(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def _progress(stream: Any) -> Any:
    started = time.perf_counter()

    def on_stage(stage: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {stage}...", file=stream, flush=True)

    return on_stage


def cmd_train(args: argparse.Namespace, settings: Settings, registry: Registry) -> int:
    from core.models import PreprocessingOptions
    from core.service import params_from_settings, train_and_register

    params = params_from_settings(
        settings,
        family=args.family,
        preprocessing=PreprocessingOptions(stopwords=args.stopwords, stem=args.stem,
                                           lemmatize=args.lemmatize),
        n_jobs=args.jobs,
        prior_weight=settings.prior_weight if args.prior_weight is None else args.prior_weight,
        separator=settings.category_separator,
    )
    # Like a training job: the catalog's rows are recorded as labels, and the reviewers'
    # labels are merged in unless --no-labels (core.labels).
    review = _review_store(settings)
    try:
        outcome = train_and_register(
            registry=registry, settings=settings, source=args.data, table=args.table,
            query=args.query, params=params, on_stage=_progress(sys.stderr),
            label_store=review, include_labels=not args.no_labels,
        )
    finally:
        review.engine.dispose()
    if args.json:
        print(json.dumps(outcome.as_dict(), ensure_ascii=False, indent=2))
    else:
        verdict = "promoted to champion" if outcome.promoted else "kept as challenger"
        print(f"version {outcome.version} ({outcome.rows} rows, {outcome.seconds:.1f}s): "
              f"test macro-F1 {outcome.metrics['macro_f1']:.4f}, accuracy "
              f"{outcome.metrics['accuracy']:.4f}; {verdict}: {outcome.reason}")
        if outcome.auto_file is not None:
            print(f"auto-filing: {outcome.auto_file['summary']}")
        if outcome.labels and outcome.labels["review_labels"]:
            labels = outcome.labels
            print(f"review labels: {labels['review_labels']} names, {labels['added']} added, "
                  f"{labels['refiled']} re-filed, {labels['conflicts']} conflicts with the "
                  f"catalog, {labels['held_back']} held back")
    return 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings, registry: Registry) -> int:
    from core.data import load_catalog
    from core.evaluation import level_scores, score
    from core.serving import classifier_for
    from core.training import with_canonical_paths

    loaded = registry.load(args.model)
    catalog = with_canonical_paths(load_catalog(args.data), separator=loaded.separator)
    classifier = classifier_for(loaded)
    predicted = [p.category for p in classifier.predict_batch(catalog.names)]
    metrics = {"model_version": loaded.version, **score(catalog.categories, predicted)}
    levels = level_scores(catalog.categories, predicted, separator=loaded.separator)
    if levels:
        metrics["levels"] = levels
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False, indent=2))
    else:
        print(f"v{loaded.version} on {metrics['n']} rows: accuracy {metrics['accuracy']:.4f}, "
              f"macro-F1 {metrics['macro_f1']:.4f}")
        for level, values in levels.items():
            print(f"  {level:8s} ({values['categories']} categories): accuracy "
                  f"{values['accuracy']:.4f}, macro-F1 {values['macro_f1']:.4f}")
        for category, values in metrics["per_category"].items():
            print(f"  {category:28s} P {values['precision']:.3f} R {values['recall']:.3f} "
                  f"F1 {values['f1']:.3f} n={values['support']}")
    return 0


def cmd_predict(args: argparse.Namespace, settings: Settings, registry: Registry) -> int:
    from core.batch import check_name
    from core.serving import classifier_for

    if bool(args.names) == bool(args.file):
        raise ValueError("give product names, or --file CSV, not both")
    for number, name in enumerate(args.names or [], start=1):
        problem = check_name(name, max_length=settings.max_name_length)
        if problem:  # refused as the API refuses it, before any model is loaded
            raise ValueError(f"name {number}: {problem}")
    classifier = classifier_for(registry.load(args.model), top_k=settings.top_k)
    if args.file:
        return _predict_file(args, settings, classifier)
    results = [(name, classifier.predict(name)) for name in args.names]
    if args.json:
        print(json.dumps([{"name": n, "category": p.category, "confidence": p.confidence,
                           "top_k": [{"category": c, "confidence": s} for c, s in p.top_k],
                           "decision": p.decision, "known": p.known,
                           **({} if p.levels is None else {
                               "levels": [{"category": c, "confidence": s}
                                          for c, s in p.levels],
                               "filed_under": p.filed_under})}
                          for n, p in results], ensure_ascii=False, indent=2))
    else:
        for name, prediction in results:
            alternatives = ", ".join(f"{c} {s:.2f}" for c, s in prediction.top_k[1:])
            print(f"{name}\t{prediction.category}\t{prediction.confidence:.3f}\t"
                  f"{prediction.decision}\t({alternatives})")
    return 0


def _predict_file(args: argparse.Namespace, settings: Settings, classifier: Any) -> int:
    """Stream a CSV through the model a chunk at a time; write the results as CSV."""
    from collections import Counter

    from core.batch import categorize_rows, chunked, results_csv_lines, rows_from_csv
    from core.batch_store import ResultRow

    tally: Counter[str] = Counter()

    def results(stream: Any) -> Any:
        row = 0
        rows = rows_from_csv(stream, max_length=settings.max_name_length)
        for chunk in chunked(rows, settings.batch_chunk_size):
            for given, result in zip(chunk, categorize_rows(classifier, chunk), strict=True):
                tally[result.decision or "error"] += 1
                yield ResultRow(row=row, id=given.id, name=given.name, category=result.category,
                                confidence=result.confidence, error=result.error,
                                decision=result.decision, top_k=result.top_k or [],
                                known=result.known, filed_under=result.filed_under)
                row += 1

    try:
        stream = open(args.file, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise ValueError(f"cannot read {args.file}: {exc.strerror}") from None
    with stream, (open(args.output, "w", encoding="utf-8", newline="") if args.output
                  else contextlib.nullcontext(sys.stdout)) as out:
        for text in results_csv_lines(results(stream), with_source=False):
            out.write(text)
    print(f"{sum(tally.values())} rows: {tally['auto']} filed automatically, "
          f"{tally['review']} for review, {tally['error']} with errors "
          f"(model v{classifier.version})", file=sys.stderr)
    return 0


def cmd_models(args: argparse.Namespace, settings: Settings, registry: Registry) -> int:
    versions = registry.list_versions()
    if args.json:
        print(json.dumps([v.__dict__ for v in versions], indent=2))
        return 0
    if not versions:
        print("no model versions yet: run `categorizer train --data CATALOG.csv`")
    for v in versions:
        f1 = v.metrics.get("macro_f1")
        print(f"v{v.version}\t{','.join(v.aliases) or '-'}\tmacro-F1 "
              f"{'-' if f1 is None else f'{f1:.4f}'}\trun {v.run_id}")
    return 0


def cmd_promote(args: argparse.Namespace, settings: Settings, registry: Registry) -> int:
    from core.monitoring_store import MonitoringStore
    from core.promotion import ShadowRule
    from core.shadow import review_labels, shadow_record

    # The same check as POST /v1/models/{version}/promote: the version's shadow record.
    review = _review_store(settings)
    try:
        record = shadow_record(
            MonitoringStore(review.engine), args.version, labels_of=review_labels(review),
            rule=ShadowRule(min_names=settings.shadow_min_labelled,
                            alpha=settings.promotion_alpha))
    finally:
        review.engine.dispose()
    check = None if record is None else record["promotion_check"]
    if check is not None and not check["passed"] and not args.force:
        raise ValueError(f"v{args.version} not promoted: {check['reason']}; "
                         "add --force to promote it anyway")
    previous = registry.promote(args.version)
    print(f"v{args.version} is champion (was {'none' if previous is None else f'v{previous}'})")
    if record is not None:
        print(f"shadow: agreed with the champion on {record['agreed']} of {record['compared']} "
              f"names; {check['reason'] if check else 'no labelled names'}")
    return 0


def cmd_rollback(args: argparse.Namespace, settings: Settings, registry: Registry) -> int:
    version = registry.rollback()
    print(f"rolled back: v{version} is champion again")
    return 0


def _review_store(settings: Settings) -> Any:
    from core.jobs import JobStore
    from core.review import ReviewStore

    settings.ensure_data_dir()
    jobs = JobStore.from_url(settings.effective_database_url)
    jobs.create_schema()
    return ReviewStore(jobs.engine)


def cmd_review_export(args: argparse.Namespace, settings: Settings, registry: Registry) -> int:
    from core.review_csv import export_lines, iter_items

    store = _review_store(settings)
    items = iter_items(store, job_id=args.job_id, state=None if args.state == "any" else args.state)
    with (open(args.output, "w", encoding="utf-8", newline="") if args.output
          else contextlib.nullcontext(sys.stdout)) as out:
        for text in export_lines(items):
            out.write(text)
    return 0


def cmd_review_import(args: argparse.Namespace, settings: Settings, registry: Registry) -> int:
    from core.registry import NoChampionError
    from core.review_csv import import_decisions

    store = _review_store(settings)
    champion: set[str] | None = None

    def known(category: str) -> bool:
        nonlocal champion
        if store.is_known(category):
            return True
        if champion is None:  # the champion's categories, loaded once if needed
            try:
                champion = {str(c) for c in registry.load("champion").pipeline.classes_}
            except NoChampionError:
                champion = set()
        return category in champion

    try:
        with open(args.file, encoding="utf-8-sig", newline="") as handle:
            report = import_decisions(store, handle, by="cli", is_known=known)
    except FileNotFoundError:
        raise ValueError(f"{args.file}: file not found") from None
    except UnicodeDecodeError:
        raise ValueError(f"{args.file}: not UTF-8 text; save the file as UTF-8") from None
    print(f"accepted {report.accepted}, corrected {report.corrected}, skipped {report.skipped}, "
          f"left pending {report.untouched}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="categorizer", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train, track and register a model from a catalog")
    train.add_argument("--data", required=True, help="CSV path or SQLAlchemy URL")
    source = train.add_mutually_exclusive_group()
    source.add_argument("--table", help="table with category and name columns (SQL source)")
    source.add_argument("--query", help="query returning category and name columns (SQL source)")
    train.add_argument("--family", choices=["linear", "baseline"], default="linear",
                       help="linear: TF-IDF + logistic regression; baseline: the predecessor's")
    train.add_argument("--stopwords", action="store_true", help="drop ES+EN stopwords")
    train.add_argument("--stem", action="store_true", help="Snowball-stem words (NLTK)")
    train.add_argument("--lemmatize", action="store_true", help="lemmatize words (simplemma)")
    train.add_argument("--jobs", type=_positive, default=1,
                       help="parallel cross-validation fits (default 1: on a catalog of a few "
                            "thousand rows, starting worker processes costs what they save)")
    train.add_argument("--prior-weight", type=_weight, default=None,
                       help="weight of the built-in sample catalog's rows as a vocabulary prior "
                            "(default PRIOR_WEIGHT, 0.1; 0 turns it off)")
    train.add_argument("--no-labels", action="store_true",
                       help="leave out the review labels stored in the job database (by "
                            "default they are merged in, as a training job does)")
    train.add_argument("--json", action="store_true", help="print the outcome as JSON")
    train.set_defaults(handler=cmd_train)

    evaluate = sub.add_parser("evaluate", help="score a model version on a labelled CSV")
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--model", default="champion", help="champion, challenger or a version")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(handler=cmd_evaluate)

    predict = sub.add_parser("predict", help="categorize product names, or a CSV of them")
    predict.add_argument("names", nargs="*")
    predict.add_argument("--file", help="CSV with a name column (and optionally id), streamed "
                                        "through the model; writes category, confidence and "
                                        "decision per row as CSV")
    predict.add_argument("--output", "-o", help="where --file writes (default stdout)")
    predict.add_argument("--model", default="champion")
    predict.add_argument("--json", action="store_true")
    predict.set_defaults(handler=cmd_predict)

    models = sub.add_parser("models", help="list model versions, aliases and metrics")
    models.add_argument("--json", action="store_true")
    models.set_defaults(handler=cmd_models)

    promote = sub.add_parser("promote", help="make a version the champion")
    promote.add_argument("version", type=int)
    promote.add_argument("--force", action="store_true",
                         help="promote even if the version's shadow record shows it did worse "
                              "than the champion on names a reviewer labelled")
    promote.set_defaults(handler=cmd_promote)

    review = sub.add_parser("review", help="the review queue as a spreadsheet: export, import")
    review_sub = review.add_subparsers(dest="review_command", required=True)
    export = review_sub.add_parser(
        "export", help="write review items as CSV, with empty category and skip columns to fill")
    export.add_argument("--job-id", help="only this batch job's items")
    export.add_argument("--state", default="pending",
                        choices=["pending", "accepted", "corrected", "skipped", "any"])
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    export.set_defaults(handler=cmd_review_export)
    import_ = review_sub.add_parser(
        "import", help="apply the decisions of an edited export (all lines, or none)")
    import_.add_argument("file")
    import_.set_defaults(handler=cmd_review_import)

    rollback = sub.add_parser("rollback", help="restore the previous champion")
    rollback.set_defaults(handler=cmd_rollback)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; errors are one clear line on stderr and a non-zero exit."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from core.config import get_settings
    from core.errors import CategorizerError
    from core.service import registry_from_settings

    try:
        settings = get_settings()
        result: int = args.handler(args, settings, registry_from_settings(settings))
        return result
    except (CategorizerError, ValueError) as exc:
        print(f"categorizer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("categorizer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
