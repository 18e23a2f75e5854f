"""The `categorizer` command line, run in-process against a temporary DATA_DIR."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.cli import main
from core.config import get_settings
from core.data import SAMPLE_CATALOG, Catalog
from core.registry import Registry
from core.service import registry_from_settings
from core.training import TrainParams, TrainResult
from tests.fixtures.registry import isolate_mlflow_env, make_data_dir, register


def use_data_dir(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    isolate_mlflow_env(monkeypatch)
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("CALIBRATION_FOLDS", "3")  # the calibration at a third of the fits
    get_settings.cache_clear()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


PROGRESS = re.compile(r"^\[ *\d+\.\ds\] [a-z ]+\.\.\.$")


def assert_one_line_error(err: str, fragment: str) -> None:
    # Progress lines may come first; the error itself is one line, and nothing follows it.
    lines = [line for line in err.strip().splitlines() if not PROGRESS.match(line)]
    assert len(lines) == 1, err
    assert lines[0].startswith("categorizer: error: ")
    assert fragment in lines[0]
    assert err.endswith(lines[0] + "\n")


REVIEWED_NAME = "llave stillson reforzada de prueba 14 pulg"  # not in the sample catalog


def _store_review_label(name: str, category: str) -> None:
    """A batch row a reviewer filed under `category`, in the CLI's job database."""
    from core.batch_store import BatchStore, InputRow
    from core.jobs import JobStore
    from core.review import NewItem, ReviewStore

    jobs = JobStore.from_url(get_settings().effective_database_url)
    jobs.create_schema()
    review = ReviewStore(jobs.engine)
    review.sync_model_categories(1, [category])
    job, _ = BatchStore(jobs).create_batch([[InputRow(None, name)]])
    review.add_items(job.id, [NewItem(row=0, name=name, category=category, confidence=0.3,
                                      top_k=[])], model_version=1)
    review.accept([review.list_items(job_id=job.id).items[0].id], by="reviewer")
    jobs.engine.dispose()


@pytest.fixture(scope="module")
def trained_home(
    tmp_path_factory: pytest.TempPathFactory, empty_mlflow_db: Path
) -> Iterator[tuple[Path, dict[str, Any], str]]:
    """A DATA_DIR where `categorizer train` has run once on the sample catalog, with one
    review label (REVIEWED_NAME) stored before it."""
    data_dir = make_data_dir(tmp_path_factory.mktemp("cli") / "data", empty_mlflow_db)
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_data_dir(monkeypatch, data_dir)
        _store_review_label(REVIEWED_NAME, "Plomería")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["train", "--data", str(SAMPLE_CATALOG), "--json", "--jobs", "2"])
        assert code == 0, err.getvalue()
        yield data_dir, json.loads(out.getvalue()), err.getvalue()
    get_settings.cache_clear()


@pytest.fixture
def trained(
    trained_home: tuple[Path, dict[str, Any], str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    use_data_dir(monkeypatch, trained_home[0])
    yield trained_home[1]
    get_settings.cache_clear()


@pytest.fixture
def empty_home(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """A DATA_DIR with an empty registry, and the registry the CLI will open there."""
    use_data_dir(monkeypatch, data_dir)
    yield registry_from_settings(get_settings())
    get_settings.cache_clear()


def test_train_json(
    trained_home: tuple[Path, dict[str, Any], str], sample_catalog: Catalog
) -> None:
    _, outcome, progress = trained_home
    assert outcome["version"] == 1
    assert outcome["promoted"] is True
    assert outcome["reason"] == "first model: no champion yet"
    # the stored review label joined the catalog's rows, as in a training job
    assert outcome["rows"] == len(sample_catalog) + 1
    assert outcome["labels"]["review_labels"] == 1
    assert outcome["labels"]["added"] == 1
    assert set(outcome["metrics"]) == {"n", "accuracy", "macro_f1", "per_category"}
    assert outcome["metrics"]["macro_f1"] > 0.85
    assert set(outcome["metrics"]["per_category"]) == set(sample_catalog.categories)
    for stage in ("loading data", "selecting", "logging to MLflow"):
        assert f"{stage}..." in progress


@pytest.mark.parametrize(("argv", "include_labels"), [
    ([], True), (["--no-labels"], False)], ids=["default", "no-labels"])
def test_train_reads_the_review_labels_unless_told_not_to(
    empty_home: Registry, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    argv: list[str], include_labels: bool,
) -> None:
    import core.service
    from core.review import ReviewStore

    seen: dict[str, Any] = {}

    def train_and_register(**kwargs: Any) -> Any:
        seen.update(kwargs)
        raise ValueError("stopped before training")

    monkeypatch.setattr(core.service, "train_and_register", train_and_register)

    code, _, err = run(capsys, "train", "--data", str(SAMPLE_CATALOG), *argv)

    assert code == 2
    assert_one_line_error(err, "stopped before training")
    assert seen["include_labels"] is include_labels
    assert isinstance(seen["label_store"], ReviewStore)  # the catalog is recorded either way


def test_predict_json(trained: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "predict", "taladro", 'tubo pvc 1/2"', "--json")
    assert code == 0
    predictions = json.loads(out)
    assert [p["name"] for p in predictions] == ["taladro", 'tubo pvc 1/2"']
    assert [p["category"] for p in predictions] == ["Herramientas", "Plomería"]
    for prediction in predictions:
        assert len(prediction["top_k"]) == get_settings().top_k
        assert prediction["top_k"][0] == {"category": prediction["category"],
                                          "confidence": prediction["confidence"]}


def test_predict_plain(trained: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "predict", "foco led")
    assert code == 0
    name, category, confidence, decision, _alternatives = out.rstrip("\n").split("\t")
    assert (name, category) == ("foco led", "Electricos")
    assert 0 < float(confidence) <= 1
    assert decision in ("auto", "review")


def test_models_json(trained: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models", "--json")
    assert code == 0
    [version] = json.loads(out)
    assert version["version"] == 1
    assert version["aliases"] == ["champion"]
    assert version["run_id"] == trained["run_id"]
    assert version["metrics"]["macro_f1"] == pytest.approx(trained["metrics"]["macro_f1"])


def test_evaluate_json(
    trained: dict[str, Any], sample_catalog: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "evaluate", "--data", str(SAMPLE_CATALOG), "--json")
    assert code == 0
    metrics = json.loads(out)
    assert {"n", "accuracy", "macro_f1", "per_category"} <= set(metrics)
    assert metrics["model_version"] == 1
    assert metrics["n"] == len(sample_catalog)
    assert metrics["accuracy"] > 0.9  # 80% of these rows were trained on
    assert {c: v["support"] for c, v in metrics["per_category"].items()} == (
        sample_catalog.category_counts
    )


def test_promote_and_rollback(
    empty_home: Registry, small_result: TrainResult, small_catalog: Catalog,
    capsys: pytest.CaptureFixture[str],
) -> None:
    register(empty_home, small_result, small_catalog)
    empty_home.log_run(result=small_result, catalog=small_catalog, params=TrainParams())

    code, out, _ = run(capsys, "promote", "2")
    assert (code, out) == (0, "v2 is champion (was v1)\n")
    code, out, _ = run(capsys, "models")
    assert out.splitlines()[0].startswith("v2\tchampion\tmacro-F1 ")

    code, out, _ = run(capsys, "rollback")
    assert (code, out) == (0, "rolled back: v1 is champion again\n")
    assert empty_home.champion_version() == 1

    code, out, err = run(capsys, "rollback")
    assert (code, out) == (2, "")
    assert_one_line_error(err, "champion v1 has no earlier champion to roll back to")


def test_promote_reads_the_shadow_record_and_refuses_a_worse_challenger_unless_forced(
    empty_home: Registry, small_result: TrainResult, small_catalog: Catalog,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from core.jobs import JobStore
    from core.monitoring_store import Disagreement, MonitoringStore

    register(empty_home, small_result, small_catalog)
    empty_home.log_run(result=small_result, catalog=small_catalog, params=TrainParams())
    names = [f"producto de prueba {i}" for i in range(20)]
    jobs = JobStore.from_url(get_settings().effective_database_url)
    jobs.create_schema()
    MonitoringStore(jobs.engine).add_shadow(
        challenger_version=2, champion_version=1, compared=40, agreed=20,
        disagreements=[Disagreement(name=n, champion_category="Plomería",
                                    challenger_category="Electricos", champion_confidence=0.6,
                                    challenger_confidence=0.6, source="batch",
                                    champion_version=1) for n in names], keep=500)
    jobs.engine.dispose()
    for name in names:  # a reviewer then sided with the champion on every one
        _store_review_label(name, "Plomería")

    code, out, err = run(capsys, "promote", "2")
    assert (code, out) == (2, "")
    assert_one_line_error(err, "v2 not promoted: on 20 disagreeing names a reviewer labelled, "
                               "the champion was right on 20, the challenger on 0")
    assert empty_home.champion_version() == 1

    code, out, _ = run(capsys, "promote", "2", "--force")
    assert code == 0
    assert out.splitlines()[0] == "v2 is champion (was v1)"
    assert out.splitlines()[1].startswith("shadow: agreed with the champion on 20 of 40 names;")
    assert empty_home.champion_version() == 2


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        pytest.param(["rollback"], "there is no champion to roll back", id="rollback"),
        pytest.param(["promote", "7"], "has no version 7", id="promote-unknown"),
        pytest.param(["predict", "taladro"], "no champion model yet", id="predict"),
        pytest.param(["train", "--data", "/nonexistent/catalog.csv"], "file not found",
                     id="missing-file"),
        pytest.param(["evaluate", "--data", str(SAMPLE_CATALOG)], "no champion model yet",
                     id="evaluate"),
    ],
)
def test_errors_exit_2_with_one_line(
    empty_home: Registry, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert_one_line_error(err, fragment)


def test_models_when_empty(empty_home: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models")
    assert code == 0
    assert out.startswith("no model versions yet")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["promote", "latest"])
    assert caught.value.code == 2
    assert "invalid int value" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "value", "fragment"), [
    ("--prior-weight", "2", "must be between 0 and 1"),
    ("--prior-weight", "-0.1", "must be between 0 and 1"),
    ("--jobs", "0", "must be 1 or more"),
])
def test_train_option_out_of_range_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], option: str, value: str, fragment: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["train", "--data", str(SAMPLE_CATALOG), option, value])
    assert caught.value.code == 2
    assert fragment in capsys.readouterr().err


def test_predict_json_carries_the_decision(trained: dict[str, Any],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "predict", "taladro", "木材 ◆◆", "--json")
    assert code == 0
    known, unknown = json.loads(out)
    assert known["decision"] in ("auto", "review")
    assert known["known"] is True
    assert (unknown["known"], unknown["decision"]) == (False, "review")


def test_predict_file_streams_a_csv_through_the_model(
    trained: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATCH_CHUNK_SIZE", "3")  # several chunks, read and written in turn
    get_settings.cache_clear()
    names = ["taladro", 'tubo pvc 1/2"', "", "foco led", "=cmd()", "pintura", "taladro"]
    source = tmp_path / "products.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "name"])
        writer.writerows([f"S{i}", name] for i, name in enumerate(names))
    target = tmp_path / "out.csv"

    code, out, err = run(capsys, "predict", "--file", str(source), "--output", str(target))

    assert code == 0
    assert out == ""
    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == [f"S{i}" for i in range(len(names))]
    assert rows[2]["error"] == "empty name"
    assert rows[2]["decision"] == ""
    assert rows[4]["name"] == "'=cmd()"  # a formula cell is neutralised
    expected = main_predictions(capsys, [n for n in names if n])
    answered = [r for r in rows if not r["error"]]
    assert [(r["category"], float(r["confidence"]), r["decision"]) for r in answered] == expected
    filed = sum(r["decision"] == "auto" for r in rows)
    assert f"7 rows: {filed} filed automatically, {6 - filed} for review, 1 with errors" in err


def main_predictions(capsys: pytest.CaptureFixture[str],
                     names: list[str]) -> list[tuple[str, float, str]]:
    code, out, _ = run(capsys, "predict", *names, "--json")
    assert code == 0
    return [(p["category"], p["confidence"], p["decision"]) for p in json.loads(out)]


def test_predict_file_to_stdout_and_its_mistakes(
    trained: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "products.csv"
    source.write_text("name\nfoco led\n", encoding="utf-8")
    code, out, _ = run(capsys, "predict", "--file", str(source))
    assert code == 0
    header, line = list(csv.reader(io.StringIO(out)))
    assert header == ["row", "id", "name", "category", "confidence", "decision", "known",
                      "filed_under", "error"]
    assert line[2:4] == ["foco led", "Electricos"]

    no_name = tmp_path / "bad.csv"
    no_name.write_text("sku,title\n1,foco\n", encoding="utf-8")
    code, _, err = run(capsys, "predict", "--file", str(no_name))
    assert code == 2
    assert_one_line_error(err, "no 'name' column")

    code, _, err = run(capsys, "predict", "foco", "--file", str(source))
    assert code == 2
    assert_one_line_error(err, "not both")


def test_predict_file_that_cannot_be_read(trained: dict[str, Any],
                                          capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    code, _, err = run(capsys, "predict", "--file", str(tmp_path / "missing.csv"))
    assert code == 2
    assert_one_line_error(err, "cannot read")


def test_evaluate_and_predict_a_path_model_level_by_level(
    empty_home: Registry, path_result: TrainResult, path_catalog: Catalog, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.fixtures.catalogs import write_catalog_csv

    register(empty_home, path_result, path_catalog)
    # Written the way a store might: no spaces around the separator.
    messy = Catalog(names=path_catalog.names,
                    categories=[c.replace(" > ", ">") for c in path_catalog.categories],
                    source="messy")
    data = write_catalog_csv(messy, tmp_path / "paths.csv")

    code, out, _ = run(capsys, "evaluate", "--data", str(data), "--json")
    assert code == 0
    levels = json.loads(out)["levels"]
    assert set(levels) == {"depth_1", "leaf"}
    assert levels["depth_1"]["categories"] == 6
    assert levels["depth_1"]["accuracy"] >= levels["leaf"]["accuracy"] > 0.8

    code, out, _ = run(capsys, "evaluate", "--data", str(data))
    assert code == 0
    assert "depth_1  (6 categories): accuracy" in out

    code, out, _ = run(capsys, "predict", "Tubo PVC 1/2 hidráulico", "--json")
    [answer] = json.loads(out)
    assert answer["levels"][0]["category"] == "Plomería"
    assert answer["levels"][-1]["category"] == answer["category"]
    assert "filed_under" in answer


def test_review_export_then_import_decides_the_items(
    empty_home: Registry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from core.batch_store import BatchStore, InputRow
    from core.jobs import JobStore
    from core.review import NewItem, ReviewStore

    jobs = JobStore.from_url(get_settings().effective_database_url)
    jobs.create_schema()
    review = ReviewStore(jobs.engine)
    job, _ = BatchStore(jobs).create_batch([[InputRow(None, "codo"), InputRow(None, "foco")]])
    review.add_items(job.id, [NewItem(row=i, name=n, category="Plomería", confidence=0.3,
                                      top_k=[{"category": "Plomería", "confidence": 0.3},
                                             {"category": "Electricos", "confidence": 0.2}])
                              for i, n in enumerate(["codo", "foco"])], model_version=1)
    sheet = tmp_path / "review.csv"

    code, out, _ = run(capsys, "review", "export", "--output", str(sheet))
    assert (code, out) == (0, "")
    rows = list(csv.DictReader(io.StringIO(sheet.read_text(encoding="utf-8"))))
    assert [r["name"] for r in rows] == ["codo", "foco"]
    rows[0]["category"], rows[1]["category"] = "Plomería", "Electricos"
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    code, out, _ = run(capsys, "review", "import", str(sheet))
    assert code == 0
    assert out == "accepted 1, corrected 1, skipped 0, left pending 0\n"
    assert [(i.name, i.state, i.decided_by) for i in review.list_items().items] == [
        ("codo", "accepted", "cli"), ("foco", "corrected", "cli")]
    code, out, _ = run(capsys, "review", "export")
    assert out.splitlines()[1:] == []  # nothing pending any more

    rows[0]["category"] = "Jardín"
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    code, _, err = run(capsys, "review", "import", str(sheet))
    assert code == 2
    assert_one_line_error(err, "line 2: unknown category 'Jardín'")
    jobs.engine.dispose()

@pytest.mark.parametrize(("names", "fragment"), [
    ([""], "name 1: empty name"),
    (["taladro", "   "], "name 2: empty name"),
    (["x" * 501], "name 1: name is 501 characters long; the limit is 500"),
], ids=["empty", "blank-second", "too-long"])
def test_predict_refuses_names_the_api_refuses(
    empty_home: Registry, capsys: pytest.CaptureFixture[str], names: list[str], fragment: str
) -> None:
    # The registry is empty: a refusal that came after loading a model would say so instead.
    code, out, err = run(capsys, "predict", *names)
    assert code == 2
    assert out == ""
    assert_one_line_error(err, fragment)


def test_the_cli_module_imports_no_heavy_library() -> None:
    """`categorizer --help` answers without pydantic, scikit-learn, MLflow or SQLAlchemy: they
    are imported by the commands that use them (BENCHMARKS.md has the time it takes)."""
    code = ("import sys, core.cli; heavy = {'pydantic', 'sklearn', 'mlflow', 'sqlalchemy', "
            "'numpy', 'pandas'}; print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))")
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, env={**os.environ,
                                               "PYTHONPATH": str(Path(__file__).parents[2])})

    assert imported.stdout.strip() == "[]"
