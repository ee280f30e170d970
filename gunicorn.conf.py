"""gunicorn reads this file from the directory it starts in (the project root, as the Procfile runs it).

A configuration the app refuses stops gunicorn here, in the master, with the one-line reason and
gunicorn's boot-error exit code, before any worker starts; ``wsgi.py`` does the same from a worker
when gunicorn runs without this file.
"""

import sys
from typing import Any

BOOT_ERROR = 3  # gunicorn.arbiter.Arbiter.WORKER_BOOT_ERROR


def on_starting(server: Any) -> None:
    from runtime.config import ConfigError, check, from_environment

    try:
        check(from_environment())
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr, flush=True)  # noqa: T201 - the one line the operator reads
        sys.exit(BOOT_ERROR)
