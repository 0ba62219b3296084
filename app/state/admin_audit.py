"""State of the audit page (/admin/audit): the audit log newest first, keyset "load
more", filtered by actor, action, target, outcome and a time range (UTC)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timezone
from typing import Any, Optional

import reflex as rx

from app import audit
from app.errors import InvalidInput, JobdeckError
from app.models import User
from app.audit_tables import AuditEntry
from app.state.admin import admin_viewer
from app.state.views import exact, iso

PAGE_SIZE = 50
ANY = "any"


@dataclasses.dataclass
class AuditRow:
    id: int = 0
    at: str = ""
    at_exact: str = ""
    actor: str = ""
    address: str = ""
    via: str = ""
    action: str = ""
    target: str = ""
    outcome: str = ""
    message: str = ""


def audit_row(e: AuditEntry) -> AuditRow:
    return AuditRow(id=e.id, at=iso(e.created_at), at_exact=exact(e.created_at), actor=e.actor, address=e.address,
                    via=e.via, action=e.action, target=e.target, outcome=e.outcome, message=e.message)


def _time(form: dict[str, Any], name: str) -> Optional[datetime]:
    text = str(form.get(name, "") or "").strip()
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name}: {text!r} is not a time (YYYY-MM-DD HH:MM, UTC).", field=name) from None
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at


class AdminAuditState(rx.State):
    rows: list[AuditRow] = []
    next_cursor: str = ""
    loaded: bool = False
    actor_filter: str = ""
    action_filter: str = ANY
    target_filter: str = ""
    outcome_filter: str = ANY
    since_filter: str = ""
    until_filter: str = ""
    filter_error: str = ""

    @rx.var
    def action_choices(self) -> list[str]:
        return [ANY, *audit.ACTIONS]

    def _filters(self) -> audit.AuditFilter:
        return audit.AuditFilter(
            actor=self.actor_filter or None, target=self.target_filter or None,
            action=None if self.action_filter == ANY else self.action_filter,
            outcome=None if self.outcome_filter == ANY else self.outcome_filter,
            since=_time({"since": self.since_filter}, "since"), until=_time({"until": self.until_filter}, "until"))

    async def _page(self, user: User, cursor: Optional[str]) -> None:
        found, nxt = await asyncio.to_thread(audit.entries, viewer=user, filters=self._filters(), cursor=cursor,
                                             limit=PAGE_SIZE)
        rows = [audit_row(e) for e in found]
        self.rows = (self.rows + rows) if cursor else rows
        self.next_cursor = nxt or ""
        self.loaded = True

    @rx.event
    async def load(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        await self._page(user, None)

    @rx.event
    async def load_more(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        if not self.next_cursor:
            return
        try:
            await self._page(user, self.next_cursor)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)

    @rx.event
    async def apply_filters(self, form: dict[str, Any]):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        self.actor_filter = str(form.get("actor", "")).strip()
        self.target_filter = str(form.get("target", "")).strip()
        self.action_filter = str(form.get("action", ANY) or ANY)
        self.outcome_filter = str(form.get("outcome", ANY) or ANY)
        self.since_filter = str(form.get("since", "")).strip()
        self.until_filter = str(form.get("until", "")).strip()
        try:
            self.filter_error = ""
            await self._page(user, None)
        except JobdeckError as exc:
            self.filter_error = exc.message

    @rx.event
    async def clear_filters(self):
        user, instead = await admin_viewer(self)
        if user is None:
            return instead
        self.actor_filter = self.target_filter = self.since_filter = self.until_filter = self.filter_error = ""
        self.action_filter = self.outcome_filter = ANY
        await self._page(user, None)
