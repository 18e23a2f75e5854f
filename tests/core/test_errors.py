"""The error families: an outage is never a verdict on the request, nor the other way round."""

from __future__ import annotations

import itertools

import pytest

from api.queue import QueueUnavailable as ApiQueueUnavailable
from core.batch import BatchInputError
from core.data import CatalogError
from core.errors import (
    CategorizerError,
    EmptyBatch,
    InvalidRequest,
    JobNotFound,
    NoChampionError,
    NotFound,
    QueueUnavailable,
    RegistryError,
    RegistryUnavailable,
    StoreUnavailable,
    Unavailable,
)

FAMILIES = (InvalidRequest, NotFound, Unavailable, NoChampionError)


@pytest.mark.parametrize(("error", "family"), [
    (CatalogError, InvalidRequest), (BatchInputError, InvalidRequest), (EmptyBatch, InvalidRequest),
    (JobNotFound, NotFound), (RegistryError, NotFound),
    (RegistryUnavailable, Unavailable), (StoreUnavailable, Unavailable),
    (QueueUnavailable, Unavailable),
])
def test_each_error_is_in_exactly_one_family(error: type[Exception],
                                             family: type[Exception]) -> None:
    assert issubclass(error, CategorizerError)
    assert [f for f in FAMILIES if issubclass(error, f)] == [family]


def test_the_families_never_inherit_from_each_other() -> None:
    for one, other in itertools.permutations(FAMILIES, 2):
        assert not issubclass(one, other), (one, other)


def test_a_registry_outage_is_not_a_registry_error() -> None:
    # The training task fails a job for good on a wrong request; an outage must not look like one.
    assert not issubclass(RegistryUnavailable, RegistryError | ValueError)
    assert issubclass(InvalidRequest, ValueError)  # callers that catch ValueError still do


def test_the_api_raises_the_one_queue_error() -> None:
    assert ApiQueueUnavailable is QueueUnavailable
