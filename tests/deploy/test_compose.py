"""docker-compose.yml: the production topology, checked as a file (no Docker engine runs here).

Structure is checked in Python. `docker compose config` (or the older `docker-compose config`)
validates the file against Compose's own schema wherever either is installed; CI installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
APP_SERVICES = ("api", "worker-training", "worker-inference")
MONITORING = {"flower", "prometheus", "grafana"}
WORKERS = ("worker-training", "worker-inference")
SECRETS = {"ADMIN_API_KEY": "a-real-secret", "POSTGRES_PASSWORD": "a-real-password"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def test_the_topology_has_every_service(services: dict[str, Any]) -> None:
    assert set(services) == {"redis", "postgres", "mlflow", *APP_SERVICES, *MONITORING}


def test_monitoring_is_optional_and_nothing_else_is(services: dict[str, Any]) -> None:
    optional = {name for name, spec in services.items() if spec.get("profiles")}

    assert optional == MONITORING
    assert all(services[name]["profiles"] == ["monitoring"] for name in MONITORING)


def test_every_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name, spec in services.items():
        check = spec.get("healthcheck", {})
        assert check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable"), name


def test_services_start_when_what_they_need_is_healthy(services: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert set(depends) == {"redis", "postgres", "mlflow"}, name
        assert {d["condition"] for d in depends.values()} == {"service_healthy"}, name
    assert services["mlflow"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["flower"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_redis_keeps_queued_jobs_and_never_evicts_them(services: dict[str, Any]) -> None:
    command = " ".join(services["redis"]["command"])

    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command


def _named_volume(spec: dict[str, Any], target: str, compose: dict[str, Any]) -> str:
    for volume in spec.get("volumes", []):
        source, _, mounted = volume.partition(":")
        if mounted.split(":")[0] == target:
            assert source in compose.get("volumes", {}), f"{source} is not a named volume"
            return source
    raise AssertionError(f"nothing is mounted at {target}")


def test_everything_that_must_survive_a_restart_is_on_a_volume(
    compose: dict[str, Any], services: dict[str, Any],
) -> None:
    volumes = {
        _named_volume(services["redis"], "/data", compose),
        _named_volume(services["postgres"], "/var/lib/postgresql/data", compose),
        _named_volume(services["mlflow"], "/mlartifacts", compose),
    }
    assert len(volumes) == 3


def test_mlflow_keeps_runs_in_postgres_and_serves_the_artifacts(
    services: dict[str, Any],
) -> None:
    command = services["mlflow"]["command"]
    option = {flag: command[i + 1] for i, flag in enumerate(command[:-1])
              if flag.startswith("--")}

    assert option["--backend-store-uri"].startswith("postgresql")
    assert "@postgres:5432/" in option["--backend-store-uri"]
    assert "--serve-artifacts" in command
    assert option["--artifacts-destination"] == "/mlartifacts"
    # the app reaches it as http://mlflow:5000, which MLflow's host check must let through
    assert "mlflow:5000" in option["--allowed-hosts"].split(",")


def test_the_app_talks_to_the_shared_services_in_production(services: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["ENVIRONMENT"] == "production", name
        assert env["REDIS_URL"].startswith("redis://redis:6379/"), name
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000", name
        # no default: compose refuses to start without a real key
        assert env["ADMIN_API_KEY"].startswith("${ADMIN_API_KEY:?"), name


def test_every_worker_replica_serves_metrics_where_prometheus_looks(
    services: dict[str, Any],
) -> None:
    config = yaml.safe_load((ROOT / "monitoring" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}

    api_sd = jobs["api"]["dns_sd_configs"][0]
    assert (api_sd["names"], api_sd["port"]) == (["api"], 8000)
    for name in WORKERS:
        env = services[name]["environment"]
        assert env["WORKER_METRICS_HOST"] == "0.0.0.0"
        # DNS service discovery: one target per replica of a scaled service
        sd = jobs[name]["dns_sd_configs"][0]
        assert sd["names"] == [name]
        assert sd["port"] == int(env["WORKER_METRICS_PORT"])


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard(
    services: dict[str, Any],
) -> None:
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    provider = yaml.safe_load(
        (ROOT / "monitoring/grafana/provisioning/dashboards/categorizer.yml").read_text())
    source = yaml.safe_load(
        (ROOT / "monitoring/grafana/provisioning/datasources/prometheus.yml").read_text())

    assert mounts["./monitoring/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./monitoring/grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    assert services["prometheus"]["depends_on"]["api"]["condition"] == "service_healthy"


def _exported_series() -> set[str]:
    """Every sample name the code can export, from a registry of its own."""
    import time

    from prometheus_client import CollectorRegistry

    from core import metrics

    registry = CollectorRegistry()
    built = metrics._build(registry)
    for name in ("http_duration", "chunk_duration"):
        getattr(built, name)  # histograms without labels already export samples
    gauges = metrics.StoreGauges()
    gauges.update(metrics.StoreReading(
        queues={"q": 0}, jobs={("batch", "queued"): 0}, review_pending=0, champion_version=1,
        champion_trained_at=time.time(), drift_values={"s": 0.0}, drift_states={"s": 0},
        read_at=time.time()))
    registry.register(gauges)
    names: set[str] = set()
    for family in registry.collect():
        names.add(family.name)
        for suffix in ("_total", "_bucket", "_count", "_sum"):
            names.add(family.name + suffix)
    return names


def test_the_dashboard_queries_only_series_the_code_exports() -> None:
    import json
    import re

    dashboard = json.loads((ROOT / "monitoring/grafana/dashboards/categorizer.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queried = {m for e in expressions for m in re.findall(r"categorizer_[a-z_]+", e)}

    assert len(queried) >= 15
    assert queried <= _exported_series(), queried - _exported_series()


def test_inference_workers_can_be_scaled(services: dict[str, Any]) -> None:
    spec = services["worker-inference"]
    command = spec["command"]

    assert "container_name" not in spec
    assert "ports" not in spec
    assert command[command.index("-n") + 1].endswith("@%h")  # a distinct node per container


def test_the_containers_run_the_commands_make_run_runs(
    launcher: ModuleType, services: dict[str, Any],
) -> None:
    commands = launcher.service_commands("0.0.0.0", 8000)

    for name in APP_SERVICES:
        assert tuple(services[name]["command"]) == commands[name], name


# -- Compose's own validation ------------------------------------------------------------------

INSTALL = "apt-get install -y --no-install-recommends docker-compose"


def _compose_cli() -> list[str]:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                 timeout=30).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    message = f"neither `docker compose` nor `docker-compose` is installed ({INSTALL})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; .ci/run must install it")
    pytest.skip(message)


def _config(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", *SECRETS)}
    return subprocess.run([*_compose_cli(), "-f", str(COMPOSE_FILE), *args, "config", "-q"],
                          cwd=ROOT, env={**base, **env}, capture_output=True, text=True,
                          timeout=60)


def test_compose_accepts_the_file() -> None:
    result = _config(**SECRETS)

    assert result.returncode == 0, result.stderr


def test_compose_accepts_the_monitoring_profile() -> None:
    result = _config("--profile", "monitoring", **SECRETS)

    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_run_without_an_admin_key() -> None:
    result = _config(POSTGRES_PASSWORD="a-real-password")

    assert result.returncode != 0
    assert "ADMIN_API_KEY" in result.stderr
