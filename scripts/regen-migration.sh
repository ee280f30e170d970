#!/usr/bin/env bash
# Rebuild migrations/versions/0001_initial.py from the models. Only for the
# pre-release phase; once a database is deployed, add new revisions instead.
set -euo pipefail
tmp=$(mktemp -d)
rm -f migrations/versions/0001_*.py
DATABASE_URL="sqlite:///$tmp/empty.db" .venv/bin/alembic -c alembic.ini \
  revision --autogenerate --rev-id 0001 -m initial >/dev/null
.venv/bin/ruff format -q migrations/versions
rm -rf "$tmp"
echo "regenerated migrations/versions/0001_initial.py"
