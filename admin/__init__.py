"""The staff console: a Flask blueprint behind Flask-Login."""
