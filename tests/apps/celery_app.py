"""A Celery app on the filesystem broker (no server), whose task makes one trace of two spans.

``CELERY_DIR`` names the folder the broker and the result backend share; tracing is set up by
``opentelemetry-instrument`` around ``celery worker``, as it is for most deployed workers.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery

from tests.apps.web_apps import make_trace

TASK_NAME = "tests.apps.celery_app.traced"


def make_app(folder: Path) -> Celery:
    """The worker's app, or a client of it: both only need the shared folder."""
    for name in ("queue", "processed", "results"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    made = Celery("process_ends", broker="filesystem://", backend=f"file://{folder / 'results'}")
    made.conf.broker_transport_options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
    }
    made.conf.worker_hijack_root_logger = False
    return made


if "CELERY_DIR" in os.environ:  # the worker's (celery -A tests.apps.celery_app)
    app = make_app(Path(os.environ["CELERY_DIR"]))

    @app.task(name=TASK_NAME)
    def traced(number: int) -> str:
        return make_trace(f"/task/{number}").decode()
