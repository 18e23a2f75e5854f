"""The product's errors, in families that callers handle alike.

- `InvalidRequest`: the request or its data is wrong. Retrying cannot help; the API answers 4xx.
- `NotFound`: what was asked for does not exist (a job, a model version).
- `Unavailable`: a dependency (the model registry, the job store, the broker) is down or slow.
  Retrying later can help; tasks retry with backoff, the API answers 503, serving keeps its
  cached model.
- `NoChampionError`: no model carries the champion alias yet; neither a wrong request nor an
  outage (the first training run fixes it).

The families never inherit from each other: an outage must never be mistaken for a verdict on
the request, and a bad request must never be retried as if it were an outage.
"""

from __future__ import annotations


class CategorizerError(Exception):
    """Base of every error the product raises on purpose."""


class InvalidRequest(CategorizerError, ValueError):
    """The request or its data is wrong; never retried."""


class NotFound(CategorizerError, LookupError):
    """What was asked for does not exist."""


class Unavailable(CategorizerError):
    """A dependency cannot be reached now; retry later."""


class NoChampionError(CategorizerError):
    """No model carries the champion alias yet."""


# -- the job store -------------------------------------------------------------------------------

class JobNotFound(NotFound):
    """No job with that id (never created, or expired), or no such part of it."""


class EmptyBatch(InvalidRequest):
    """A batch with no rows at all."""


class StoreUnavailable(Unavailable):
    """The job database cannot be reached."""


# -- the model registry --------------------------------------------------------------------------

class RegistryError(NotFound):
    """The registry has no such version or alias, or no earlier champion to roll back to."""


class RegistryUnavailable(Unavailable):
    """The MLflow tracking/registry store cannot be reached."""


# -- the broker ----------------------------------------------------------------------------------

class QueueUnavailable(Unavailable):
    """The broker cannot take the message; the client gets a 503, not a 202."""
