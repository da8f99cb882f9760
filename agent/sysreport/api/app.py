"""The FastAPI application: GET /processes, GET /report, GET /healthz, and FastAPI's own
/openapi.json and /docs.

Endpoints return ready-made JSON bytes (plain dicts through json.dumps): no response
model is validated per row, which is what keeps /processes cheap with thousands of
processes. The response shapes are described in the OpenAPI document by examples.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Literal, Optional

from fastapi import FastAPI, Query
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response

from sysreport import __version__
from sysreport.api import processes
from sysreport.api.auth import OPEN_PATHS, BearerAuth

SortKey = Literal["memory", "rss", "cpu", "pid", "name"]

_PROCESSES_EXAMPLE = {
    "collected_at": "2026-12-03T13:00:04+00:00", "total": 212, "matched": 212,
    "returned": 1, "skipped": 0, "sort": "memory", "limit": 1, "user": None,
    "cpu_window_seconds": 12.5, "cpu_percent_basis": processes.CPU_BASIS,
    "cmdline_included": False,
    "processes": [{"pid": 812, "user": "postgres", "name": "postgres", "rss": 48279552,
                   "memory_percent": 0.6, "cpu_percent": 12.3}],
}


def _json(document: Any) -> Response:
    return Response(json.dumps(document, separators=(",", ":")).encode("utf-8"),
                    media_type="application/json")


def create_app(config: Any, token: Optional[str] = None,
               table: Optional[processes.ProcessTable] = None) -> Any:
    """The ASGI application for `config`; with a token, everything but /healthz needs it."""
    if table is None:
        table = processes.ProcessTable(show_cmdline=bool(config.api.show_cmdline))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The first reading of every process, so the first request gets CPU figures.
        table.scan()
        yield

    app = FastAPI(title="sysreport", version=__version__, lifespan=lifespan,
                  description="Processes and the health report of this host, read-only.")

    @app.get("/healthz", summary="Liveness: answers without a token")
    async def healthz() -> Response:
        # async: answered on the event loop, never queued behind a scan in the pool
        return _json({"status": "ok", "version": __version__})

    @app.get("/processes", summary="Running processes, largest first",
             response_class=Response,
             responses={200: {"description": "The listing",
                              "content": {"application/json":
                                          {"example": _PROCESSES_EXAMPLE}}}})
    def list_processes(
        sort: SortKey = Query("memory", description="memory and rss: resident memory, "
                              "largest first; cpu: busiest first; pid, name: ascending"),
        limit: int = Query(processes.DEFAULT_LIMIT, ge=1, le=processes.MAX_LIMIT,
                           description="at most this many processes"),
        user: Optional[str] = Query(None, description="only processes of this user name"),
    ) -> Response:
        # A plain def: FastAPI runs it in its thread pool, so a scan never blocks the
        # event loop (and /healthz keeps answering during one).
        return _json(table.listing(sort=sort, limit=limit, user=user))

    @app.get("/report", summary="The health report (as `sysreport collect --format json`)",
             response_class=Response,
             responses={200: {"description": "The report document, schema_version 1",
                              "content": {"application/json": {}}}})
    def get_report() -> Response:
        # Imported here: the collectors are not needed to serve /processes.
        from sysreport import report
        from sysreport.render import json as render_json

        document = report.build(config)  # remember=False: the API writes no history
        if not config.api.show_cmdline:   # as in /processes
            report.drop_cmdlines(document)
        return Response(render_json.render(document).encode("utf-8"),
                        media_type="application/json")

    if token is not None:
        app.openapi = lambda: _openapi_with_bearer(app)  # type: ignore[method-assign]
        return BearerAuth(app, token)
    return app


def _openapi_with_bearer(app: FastAPI) -> dict:
    """The OpenAPI document, saying that every path but OPEN_PATHS takes the token."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"}}
        for path, operations in schema.get("paths", {}).items():
            if path in OPEN_PATHS:
                continue
            for operation in operations.values():
                operation["security"] = [{"bearer": []}]
        app.openapi_schema = schema
    return app.openapi_schema
