"""The notices a tab shows (app.notices): a job, batch or run of yours ended elsewhere.

Every page's layout registers its tab for them when it mounts (live pages also do so
when they register their watch); the live listener adds a notice here for the owner's
tabs that do not show the thing. A notice stays until dismissed; the newest few are
kept."""

from __future__ import annotations

import dataclasses

import reflex as rx

from app.notices import Notice
from app.state.base import AuthState
from app.state.live import hub

KEEP = 4  # notices shown at once; older ones make way


@dataclasses.dataclass
class NoticeRow:
    key: str = ""
    text: str = ""
    href: str = ""
    status: str = ""


class NoticeState(rx.State):
    notices: list[NoticeRow] = []
    _for: str = ""  # whose notices these are: another user signing in on the tab starts afresh

    async def register(self):
        auth = await self.get_state(AuthState)
        username = auth.username
        if not username:
            user = auth._viewer()
            username = user.username if user is not None else ""
        if username != self._for:
            self.notices, self._for = [], username
        if username:
            hub.tab(self.router.session.client_token, username)

    def dismiss(self, key: str):
        self.notices = [n for n in self.notices if n.key != key]

    def _add(self, notice: Notice) -> None:
        if notice.owner != self._for:
            return
        row = NoticeRow(key=notice.key, text=notice.text, href=notice.href, status=notice.status)
        self.notices = [row, *[n for n in self.notices if n.key != notice.key]][:KEEP]


hub.notice_state = NoticeState
