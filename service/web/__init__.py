"""The web workbench: server-rendered pages for finance staff and department clerks.

Pages read the same read model and call the same service functions as the JSON API
(`service.projects`); only the transport differs (a cookie session and HTML forms instead of a
bearer token and JSON).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install_workbench(app: FastAPI) -> None:
    """Add the workbench's pages and its vendored static files to `app`."""
    # Imported here: the page modules import the API's service modules, which import this
    # package's parent; keeping the import inside avoids a cycle at import time.
    from urllib.parse import quote

    from service.web import department_routes, excel_routes, report_routes, routes
    from service.web.page_access import LoginRequired

    async def to_login(request: Request, exc: Exception) -> Response:
        next_path = exc.next_path if isinstance(exc, LoginRequired) else "/"
        return RedirectResponse(f"/login?next={quote(next_path)}", status_code=303)

    app.include_router(routes.router)
    app.include_router(excel_routes.router)
    app.include_router(report_routes.router)
    app.include_router(department_routes.router)
    app.add_exception_handler(LoginRequired, to_login)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
