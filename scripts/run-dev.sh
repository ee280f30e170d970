#!/usr/bin/env bash
# `make run`: migrate, seed demo data on an empty database, then the web server
# and the scheduler together; Ctrl-C stops both.
set -euo pipefail
flask=".venv/bin/flask --app wsgi"
$flask db upgrade
$flask demo seed --if-empty
cat <<TXT

  Loyalty Bot is starting on http://127.0.0.1:5000
    console:    http://127.0.0.1:5000/admin/  (create a login: .venv/bin/flask --app wsgi users create you@example.com --role admin)
    health:     http://127.0.0.1:5000/health
    chat:       .venv/bin/flask --app wsgi chat +919812345678   (talk to the bot as a demo customer, no WhatsApp needed)

TXT
$flask scheduler &
scheduler=$!
trap 'kill $scheduler 2>/dev/null; wait $scheduler 2>/dev/null' EXIT INT TERM
$flask run --host 127.0.0.1 --port 5000
