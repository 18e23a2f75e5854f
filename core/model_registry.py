"""What serving processes read from the model registry and do to it, as a typed protocol.

`core.registry.Registry` (MLflow) is the one implementation; the API's and the workers' state
hold this protocol, so the tests' in-memory registry is checked against it by mypy as well.
Training and logging runs need the whole `Registry` and take it by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from core.registry import LoadedModel, ModelVersionInfo, VersionDetails


class ModelRegistry(Protocol):
    model_name: str

    def champion_version(self) -> int | None: ...

    def challenger_version(self) -> int | None: ...

    def load(self, ref: str | int = ...) -> LoadedModel: ...

    def list_versions(self) -> list[ModelVersionInfo]: ...

    def calibration(self, version: int) -> tuple[float, float | None]: ...

    def reference_profile(self, version: int) -> dict[str, Any] | None: ...

    def trained_at(self, version: int) -> float: ...

    def version_details(self, version: int) -> VersionDetails: ...

    def artifact_bytes(self, run_id: str, path: str) -> bytes: ...

    def promote(self, version: int) -> int | None: ...

    def rollback(self) -> int: ...
