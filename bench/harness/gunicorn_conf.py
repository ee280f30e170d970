"""gunicorn settings for `servers.gunicorn`: threaded workers (keep-alive), no access log, quiet app logs."""

import logging

worker_class = "gthread"
keepalive = 30
accesslog = None
loglevel = "warning"
graceful_timeout = 10

# The app configures INFO logging only when nothing else has; one line per message would cost
# more than the work being measured.
logging.basicConfig(level=logging.WARNING)
