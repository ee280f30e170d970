from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import flask
from apispec import APISpec

_F = TypeVar("_F", bound=Callable[..., Any])

class Blueprint(flask.Blueprint):
    ARGUMENTS_PARSER: Any
    def __init__(
        self, name: str, import_name: str, *args: Any, description: str | None = ..., **kwargs: Any
    ) -> None: ...
    def route(
        self, rule: str, *, parameters: list[Any] | None = ..., tags: list[str] | None = ..., **options: Any
    ) -> Callable[[_F], _F]: ...  # type: ignore[override]
    def arguments(
        self,
        schema: Any,
        *,
        location: str = ...,
        content_type: str | None = ...,
        required: bool = ...,
        description: str | None = ...,
        example: Any = ...,
        examples: Mapping[str, Any] | None = ...,
        **kwargs: Any,
    ) -> Callable[[_F], _F]: ...
    def response(
        self,
        status_code: int | str,
        schema: Any = ...,
        *,
        content_type: str | None = ...,
        description: str | None = ...,
        example: Any = ...,
        examples: Mapping[str, Any] | None = ...,
        headers: Mapping[str, Any] | None = ...,
    ) -> Callable[[_F], _F]: ...
    def alt_response(
        self,
        status_code: int | str,
        response: Any = ...,
        *,
        schema: Any = ...,
        content_type: str | None = ...,
        description: str | None = ...,
        example: Any = ...,
        examples: Mapping[str, Any] | None = ...,
        headers: Mapping[str, Any] | None = ...,
        success: bool = ...,
    ) -> Callable[[_F], _F]: ...
    @staticmethod
    def doc(**kwargs: Any) -> Callable[[_F], _F]: ...

class Api:
    ERROR_SCHEMA: Any
    DEFAULT_ERROR_RESPONSE_NAME: str | None
    spec: APISpec
    _app: flask.Flask
    def __init__(
        self, app: flask.Flask | None = ..., *, spec_kwargs: dict[str, Any] | None = ..., config_prefix: str = ...
    ) -> None: ...
    def init_app(self, app: flask.Flask, *, spec_kwargs: dict[str, Any] | None = ...) -> None: ...
    def register_blueprint(self, blp: Blueprint, *, parameters: list[Any] | None = ..., **options: Any) -> None: ...
    def _register_error_handlers(self) -> None: ...
    def _register_responses(self) -> None: ...
