"""A request-body cap that also holds for uploads without a Content-Length.

Django's ASGI handler reads the whole body (spooling it to disk past 2.5 MiB) before any view runs, so a view
can refuse an oversized upload early only when the client declares its size. A chunked upload has no
Content-Length. This middleware reads the body of capped paths itself, keeping at most the cap in memory
(a body that declares a larger size is not read at all).
Past the cap it stops keeping bytes and hands Django an empty body, with `scope["body_over_limit"]` set to
the cap; the view answers with its own error page, and the rest of the upload is read and dropped, never
stored. Under the cap it hands Django the body with its size declared (Django's form parser reads a body
without a Content-Length as empty)."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse

BODY_OVER_LIMIT = "body_over_limit"  # the scope key a view reads (`request.scope` on an ASGI request)


class BodySizeLimit:
    def __init__(self, app, limits: Callable[[], dict[str, int]]):
        """`limits` returns {path: max body bytes}; called once, on the first request (URLs are ready then)."""
        self.app, self._limits_factory, self._limits = app, limits, None

    def _limit_for(self, scope) -> int | None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            return None
        if self._limits is None:
            self._limits = dict(self._limits_factory())
        return self._limits.get(scope.get("path", ""))

    async def __call__(self, scope, receive, send):
        limit = self._limit_for(scope)
        if limit is None:
            return await self.app(scope, receive, send)
        declared = _declared_length(scope)
        kept, size = [], 0
        while declared is None or declared <= limit:  # a declared oversized body is not read at all
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away before its body was complete: nothing to answer
            size += len(message.get("body", b""))
            if size > limit:
                break
            kept.append(message)
            if not message.get("more_body", False):
                if declared is None:
                    # the whole body is here: declare its size, or Django parses a chunked form as empty
                    scope = {**scope, "headers": [*scope["headers"], (b"content-length", str(size).encode())]}
                break
        else:
            size = declared
        over = size > limit
        if over:
            scope = {**scope, BODY_OVER_LIMIT: limit}
            kept = [{"type": "http.request", "body": b"", "more_body": False}]

        async def replay():
            if kept:
                return kept.pop(0)
            while True:  # after the body Django only listens for the disconnect: drop what is still coming
                message = await receive()
                if message["type"] != "http.request" or not over:
                    return message

        await self.app(scope, replay, send)


def _declared_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def bundle_import_limits() -> dict[str, int]:
    from cases.bundle_views import MAX_REQUEST_BYTES

    return {reverse("case_import"): MAX_REQUEST_BYTES}
