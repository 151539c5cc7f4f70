"""Browser hardening headers on every answer: no framing, no MIME sniffing, no referrer leaving
the site, and a Content Security Policy on the workbench's pages.

The workbench's forms approve budgets and cut them: a page framed by another site could trick
an officer signed in into clicking one (clickjacking), which the CSRF token does not stop. Its
pages load nothing but their own script and stylesheet, so the policy allows only those (inline
`style` attributes too, which the templates use for layout; never inline script). The API's
generated docs (`/docs`, `/redoc`) load Swagger UI and ReDoc from their CDN with an inline
script, so they get the framing rule only.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WORKBENCH_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self' 'unsafe-inline'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
DOCS_POLICY = "frame-ancestors 'none'"
DOCS_PATHS = ("/docs", "/redoc")

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "Referrer-Policy": "same-origin",
}


def policy_for(path: str, content_type: str) -> str:
    if path.startswith(DOCS_PATHS):
        return DOCS_POLICY
    if content_type.startswith("text/html"):
        return WORKBENCH_POLICY
    return DOCS_POLICY  # JSON, PDF, Excel: nothing to run, but not to be framed either


class SecurityHeaders:
    """Plain ASGI, like the other middlewares: it only adds headers to the response start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                headers.setdefault(
                    "Content-Security-Policy",
                    policy_for(path, headers.get("content-type", "")),
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)
