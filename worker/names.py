"""Task names and their queues, defined once: the API enqueues by these names, workers register
tasks under them, and the Celery app routes each to its queue. Nothing here imports Celery."""

from __future__ import annotations

from typing import Final

TRAINING_QUEUE: Final = "training"
INFERENCE_QUEUE: Final = "inference"

TRAINING_TASK: Final = "training.run"
BATCH_START_TASK: Final = "batch.start"
BATCH_CHUNK_TASK: Final = "batch.chunk"
# The challenger scores what the champion answered, off the request path (core/shadow.py).
SHADOW_SCORE_TASK: Final = "shadow.score"
SHADOW_CHUNK_TASK: Final = "shadow.chunk"

TASK_QUEUES: Final = {
    TRAINING_TASK: TRAINING_QUEUE,
    BATCH_START_TASK: INFERENCE_QUEUE,
    BATCH_CHUNK_TASK: INFERENCE_QUEUE,
    SHADOW_SCORE_TASK: INFERENCE_QUEUE,
    SHADOW_CHUNK_TASK: INFERENCE_QUEUE,
}

# The task that takes a job of each kind from the start (the API's submission and its sweeper).
JOB_TASKS: Final = {"training": TRAINING_TASK, "batch": BATCH_START_TASK}
