"""Entry point for gunicorn (``gunicorn wsgi:app``) and ``flask --app wsgi``.

A configuration the app refuses (production without real secrets, an unknown
``APP_ENV``, a database URL that cannot work) ends the process with its one-line
reason, not a traceback, and exit code 1.

Under gunicorn (when its master did not already refuse, see ``gunicorn.conf.py``)
a worker exits with gunicorn's boot-error code, on which the master stops instead
of starting workers again and again. Only the first worker of a master to fail
does so and says why: when two exit with that code, gunicorn's shutdown trips over
the second and prints a traceback, so the others leave quietly.
"""

import os
import sys
import tempfile
from pathlib import Path

from loyalty import create_app
from runtime.config import ConfigError

# gunicorn.arbiter.Arbiter.WORKER_BOOT_ERROR: a worker that exits with it halts the whole server.
GUNICORN_BOOT_ERROR = 3


def _first_to_fail() -> bool:
    """Whether this is the first worker of its gunicorn master to refuse the configuration."""
    master = os.getppid()
    try:  # the master's start time, so that a later master with a reused pid is another one
        started = Path(f"/proc/{master}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        started = "0"
    folder = Path(tempfile.gettempdir())
    marker = folder / f"loyalty-boot-error-{master}-{started}"
    for old in folder.glob("loyalty-boot-error-*"):  # markers of masters that have exited since
        pid = old.name.split("-")[3]
        if old != marker and pid.isdigit() and not _alive(int(pid)):
            old.unlink(missing_ok=True)
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


try:
    app = create_app()
except ConfigError as exc:
    if "gunicorn.arbiter" not in sys.modules:
        print(f"Error: {exc}", file=sys.stderr, flush=True)  # noqa: T201 - the one line the operator reads
        raise SystemExit(1) from None
    if not _first_to_fail():
        raise SystemExit(0) from None
    print(f"Error: {exc}", file=sys.stderr, flush=True)  # noqa: T201
    raise SystemExit(GUNICORN_BOOT_ERROR) from None
