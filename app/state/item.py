"""State of an item's page: details, versions, new version, and its workflow graph."""

from __future__ import annotations

from typing import Any, Optional

import reflex as rx

from app import item_kinds, queries, registry, routes
from app.errors import InvalidInput, JobdeckError, NotFound
from app.models import Item, User
from app.state import live
from app.state.base import refused, sign_in_redirect, viewer
from app.state.views import ItemRow, flow_elements, item_row, pretty_json


def read_item(item_id: str) -> dict[str, Any]:
    try:
        item = registry.get_item(item_id)
    except NotFound:
        return {}
    g = queries.item_workflow(item_id)
    return {"item": item, "versions": registry.item_versions(item_id), "nodes": g.nodes, "edges": g.edges,
            "overall": g.overall}


class ItemState(rx.State):
    found: bool = False
    loaded: bool = False
    item: ItemRow = ItemRow()
    record_json: str = ""
    # the item's kind's fields, as (label, value), and whether it is still a seed
    fields: list[list[str]] = []
    is_seed: bool = False
    versions: list[ItemRow] = []
    may_see_workflow: bool = False
    may_version: bool = False
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    overall: str = "NONE"
    job_count: int = 0
    graph_open: bool = True
    version_open: bool = False
    version_error: str = ""

    def _item_id(self) -> str:
        return routes.id_in(self.router.url.path)

    def _show(self, user: User, d: dict[str, Any]) -> None:
        item: Optional[Item] = d.get("item")
        self.loaded = True
        if item is None:
            self.found = False
            return
        self.found = True
        self.item = item_row(item)
        self.record_json = pretty_json(item.record)
        self.fields = [[label, value] for label, value in item_kinds.summary(item.subtype, item.record or {})]
        self.is_seed = item.record_type == item_kinds.SEED
        self.versions = [item_row(v) for v in d["versions"]]
        mine = item.owner == user.username or user.is_admin
        # Jobs are their owner's: another user sees the item but not its workflow.
        self.may_see_workflow = mine
        self.may_version = mine and not item.next_version_id
        if mine:
            self.nodes, self.edges = flow_elements(d["nodes"], d["edges"])
            self.overall = d["overall"]
            self.job_count = len(d["nodes"])
        else:
            self.nodes, self.edges, self.overall, self.job_count = [], [], "NONE", 0

    def _watch(self, user: User, d: dict[str, Any]) -> None:
        item: Optional[Item] = d.get("item")
        if item is None:
            live.unwatch(self)
            return
        flows = {w for w in (item.create_workflow_id, item.version_workflow_id) if w}
        flows |= {n["workflow_id"] for n in d["nodes"] if n.get("workflow_id")}
        live.watch(self, username=user.username, admin=user.is_admin, entity_ids=frozenset([item.id]),
                   workflow_ids=frozenset(flows))

    @rx.event
    async def load(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        self.loaded = False
        self.version_open = False
        self.version_error = ""
        item_id = self._item_id()
        live.watch(self, username=user.username, admin=user.is_admin, entity_ids=frozenset([item_id]))
        d = read_item(item_id)
        self._show(user, d)
        self._watch(user, d)

    @rx.event
    def toggle_graph(self):
        self.graph_open = not self.graph_open

    @rx.event
    def set_version_open(self, value: bool):
        self.version_open = bool(value)
        self.version_error = ""

    @rx.event
    async def new_version(self, form: dict[str, Any]):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        try:
            item, _ = registry.version_item(actor=user, item_id=self._item_id(),
                                            reason=str(form.get("reason", "")))
        except InvalidInput as exc:
            self.version_error = refused(exc, "item.new_version")
            return
        except JobdeckError as exc:
            self.version_error = refused(exc, "item.new_version")
            return rx.toast.error(exc.message)
        self.version_open = False
        return [rx.redirect(routes.item(item.id)),
                rx.toast.success(f"Version {item.version} created; its version workflow is running.")]

    @rx.event
    def open_job(self, job_id: str):
        return rx.redirect(routes.job(job_id))

    async def _live(self, events: list[dict[str, Any]], burst: live.Burst) -> None:
        w = live.current_watch()
        if w is None:
            return
        item_id = self._item_id()
        user = User(username=w.username, display_name="", role="admin" if w.admin else "user", password_hash="")
        d = burst.memo(("item", item_id), lambda: read_item(item_id))
        self._show(user, d)
        self._watch(user, d)

    async def _live_resync(self) -> None:
        await self.load()
