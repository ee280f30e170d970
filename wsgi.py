"""Entry point for gunicorn (``gunicorn wsgi:app``) and ``flask --app wsgi``.

A configuration the app refuses (production without real secrets, an unknown
``APP_ENV``, a database URL that cannot work) ends the process with its one-line
reason, not a traceback. Under gunicorn the worker exits with gunicorn's
boot-error code, on which the master stops instead of starting the worker again
and again; everywhere else the exit code is 1.
"""

import sys

from loyalty import create_app
from runtime.config import ConfigError

# gunicorn.arbiter.Arbiter.WORKER_BOOT_ERROR: a worker that exits with it halts the whole server.
GUNICORN_BOOT_ERROR = 3

try:
    app = create_app()
except ConfigError as exc:
    print(f"Error: {exc}", file=sys.stderr, flush=True)  # noqa: T201 - the one line the operator reads
    raise SystemExit(GUNICORN_BOOT_ERROR if "gunicorn.arbiter" in sys.modules else 1) from None
