"""The OpenAPI 3.1 document validates and covers the contract; Swagger UI comes from this host only."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

CONTRACT = {
    "/api/v1/members": {"get", "post"},
    "/api/v1/members/{member_id}": {"get"},
    "/api/v1/members/{member_id}/ledger": {"get"},
    "/api/v1/rewards": {"get"},
    "/api/v1/members/{member_id}/redemptions": {"post"},
    "/api/v1/transactions": {"post"},
    "/api/v1/returns": {"post"},
    "/api/v1/vouchers/{code}": {"get"},
    "/api/v1/vouchers/{code}/redeem": {"post"},
    "/api/v1/vouchers/{code}/rollback": {"post"},
    "/api/v1/holds": {"post"},
    "/api/v1/holds/{hold_id}/verify": {"post"},
    "/api/v1/holds/{hold_id}/capture": {"post"},
    "/api/v1/holds/{hold_id}/release": {"post"},
    "/api/v1/holds/{hold_id}": {"get"},
    "/api/v1/members/{member_id}/adjustments": {"post"},
    "/api/v1/erp/status": {"get"},
    "/api/v1/erp/sync": {"post"},
    "/api/v1/auth/token": {"post"},
    "/api/v1/auth/refresh": {"post"},
}
SCOPES = {
    "/api/v1/transactions": "transactions:write",
    "/api/v1/holds": "holds:write",
    "/api/v1/members/{member_id}/adjustments": "points:adjust",
    "/api/v1/vouchers/{code}/redeem": "vouchers:write",
}


@pytest.fixture
def document(client: Any) -> dict[str, Any]:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    body: dict[str, Any] = answer.get_json()
    return body


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_contract_path_and_method_is_documented(document: dict[str, Any]) -> None:
    for path, methods in CONTRACT.items():
        assert path in document["paths"], path
        assert methods <= set(document["paths"][path]), (path, set(document["paths"][path]))
    for path, scope in SCOPES.items():
        assert document["paths"][path]["post"]["security"] == [{"bearerAuth": [scope]}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_operations_have_examples_and_document_their_errors(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            assert operation.get("summary"), (method, path)
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), (method, path)
            if method == "post":
                assert "400" in responses, (method, path)
                if "bearerAuth" in str(operation.get("security")):
                    assert {"$ref": "#/components/parameters/IdempotencyKey"} in operation["parameters"]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                assert "example" in body or "examples" in body, (method, path)
    assert "example" in str(schemas["MemberOut"]) and "example" in str(schemas["Problem"])
    problem = document["components"]["responses"]["BAD_REQUEST"]["content"]
    assert "application/problem+json" in problem


def test_swagger_ui_is_served_from_this_host_only(client: Any) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) >= 4
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url
        with client.get(url) as served:
            assert served.status_code == 200 and served.get_data(), url
            if url.endswith(".css"):
                assert not re.search(r"url\(\s*['\"]?(https?:)?//|@import", served.get_data(as_text=True)), url
    assert "https://" not in html and "http://" not in html
    assert 'data-spec="/api/v1/openapi.json"' in html
    init = client.get("/api/docs/init.js").get_data(as_text=True)
    assert "validatorUrl: null" in init and "http" not in init
    assert client.get("/api/docs/assets/../../../etc/passwd").status_code == 404
    assert client.get("/api/docs/assets/secret.py").status_code == 404
