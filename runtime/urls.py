"""URL pieces every room shares: ``<int:...>`` bounded to the ids a database column can hold."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

from domain.limits import MAX_ID


class BoundedIntConverter(IntegerConverter):
    """``/customers/99999999999999999999`` is a 404, not PostgreSQL's "integer out of range" as a 500."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
