"""The ERP side: a pyodbc reader, the mapping file, and the batched sync into the domain."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the ``erp`` command group (``erp check``, ``erp sync``) and the erasure forgetter."""
    from erp import privacy
    from erp.cli import erp_group

    app.cli.add_command(erp_group)
    privacy.register()
