"""What the benches share, so a new one writes only its scenario.

- ``postgres``: scratch databases on the local PostgreSQL server, migrated or empty, dropped afterwards.
- ``servers``: an app under gunicorn on a free port, the Graph API stand-in in its own process.
- ``bare``: the bare Flask endpoints a real endpoint is compared with.
- ``load``: requests files for ``wrk``, closed-loop throughput with ``wrk``, open-loop fixed-rate latency,
  percentiles.
- ``report``: Markdown tables, and rewriting one section of docs/PERFORMANCE.md (``--write-docs``).
"""
