"""The viewer sends each change the admin's page asks for, first: the API must refuse it.

The admin's page is routed through `ViewerFirst`: every request to /ferry/api/ other than a
GET (a change: run, stop, duplicate, schedule, detach, remove) is sent again, byte for
byte with the same method, URL, body and headers, from the viewer's logged-in browser
context (her own cookie, not the admin's); the answer is kept. Then the admin's own
request goes on. So each action test proves, with the exact request the page makes, that
the viewer gets 403 and that her attempt changed nothing (the admin's result would show
a second change).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

API = "**/ferry/api/**"
NOT_COPIED = {"cookie", "authorization", "content-length", "host"}


@dataclass(frozen=True)
class Replayed:
    method: str
    path: str
    status: int
    body: str


class ViewerFirst:
    def __init__(self, page, viewer_request, viewer_name: str) -> None:
        self.viewer = viewer_request
        self.viewer_name = viewer_name
        self.replies: list[Replayed] = []
        page.route(API, self._route)

    def _route(self, route, request) -> None:
        if request.method in ("GET", "HEAD"):
            route.continue_()
            return
        headers = {k: v for k, v in request.headers.items() if k.lower() not in NOT_COPIED}
        answer = self.viewer.fetch(
            request.url, method=request.method, headers=headers, data=request.post_data_buffer
        )
        self.replies.append(
            Replayed(request.method, urlsplit(request.url).path, answer.status, answer.text())
        )
        route.continue_()

    def refused(self) -> list[tuple[str, str]]:
        """(method, path) of every change the viewer sent; asserts each got 403 naming her
        (refused for who she is, not for a malformed request)."""
        assert self.replies, "the page sent no change to /ferry/api/"
        for reply in self.replies:
            assert reply.status == 403, reply
            assert self.viewer_name in reply.body, reply
        return [(reply.method, reply.path) for reply in self.replies]
