"""The OpenAPI 3.1 document, written from the routes' own pydantic models.

Each API view is declared with :func:`operation`, which records its path, method, scope,
request model and response model. ``document()`` turns that record into OpenAPI; the views
validate with the very same models, so the document is what the code does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from server.api.schemas import Error


@dataclass(frozen=True)
class Operation:
    endpoint: str
    rule: str
    method: str
    summary: str
    scope: str | None
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int = 200
    query: tuple[tuple[str, str, str], ...] = ()  # (name, type, description)


OPERATIONS: list[Operation] = []


def operation(op: Operation) -> None:
    OPERATIONS.append(op)


def _path(rule: str) -> str:
    # Flask's /x/<int:id> is OpenAPI's /x/{id}
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _params(rule: str) -> list[dict[str, Any]]:
    params = []
    for kind, name in re.findall(r"<(?:([a-z]+):)?([a-z_]+)>", rule):
        schema = {"type": "integer"} if kind == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def document(prefix: str = "/api/v1") -> dict[str, Any]:
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error = {"content": {"application/json": {"schema": ref(Error)}}}
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        item: dict[str, Any] = {
            "operationId": op.endpoint,
            "summary": op.summary,
            "parameters": _params(op.rule)
            + [
                {
                    "name": n,
                    "in": "query",
                    "required": False,
                    "schema": {"type": t},
                    "description": d,
                }
                for n, t, d in op.query
            ],
            "responses": {
                str(op.status): {
                    "description": "OK",
                    **(
                        {"content": {"application/json": {"schema": ref(op.response)}}}
                        if op.response
                        else {}
                    ),
                },
                "400": {"description": "Invalid request", **error},
                "404": {"description": "Not found, or not yours", **error},
            },
        }
        if op.scope:
            item["security"] = [{"token": [op.scope]}]
            item["responses"]["401"] = {"description": "No valid token", **error}
            item["responses"]["403"] = {"description": f"Needs the {op.scope} scope", **error}
        else:
            item["security"] = []
        if op.body is not None:
            item["responses"]["409"] = {
                "description": "Conflict: the email already has a live invitation",
                **error,
            }
            item["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.body)}},
            }
        paths.setdefault(prefix + _path(op.rule), {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "Assay API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token (scope read or write)",
                }
            },
        },
    }
