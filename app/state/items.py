"""State of the items page: the registry's items, and the form that creates one."""

from __future__ import annotations

from typing import Any

import reflex as rx

from app import item_kinds, queries, registry, routes
from app.errors import InvalidInput, JobdeckError
from app.payloads import ITEM_SUBTYPES
from app.shapes import check_text
from app.state import address, live
from app.state.base import refused, sign_in_redirect, viewer
from app.state.views import ItemRow, item_row

PAGE_SIZE = 25
ANY = "all"


# What the items page's address may hold (app.state.address): `/items?kind=MODEL&q=soil&mine=1`.
ITEMS_ADDRESS = (
    address.Param("kind", "choice", ANY, ITEM_SUBTYPES, "kind of item", f" (one of {', '.join(ITEM_SUBTYPES)})"),
    address.Param("q", what="search"),
    address.Param("mine", "flag", False, what="only mine"),
)


class ItemsState(rx.State):
    """The items page; its filters live in its address, as the jobs panel's do."""

    rows: list[ItemRow] = []
    next_cursor: str = ""
    subtype_filter: str = ANY
    query: str = ""
    mine_only: bool = False
    loaded: bool = False
    link_problem: str = ""  # what of the address was no filter's value, and so not applied
    bounded: bool = False  # the words search stopped after WINDOW items: Load more looks further
    # the create form
    form_open: bool = False
    form_subtype: str = "DATASET"
    form_error: str = ""
    form_field: str = ""

    def _list(self, username: str, cursor: str = "") -> registry.ItemPage:
        return registry.list_items(subtype=None if self.subtype_filter == ANY else self.subtype_filter,
                                   owner=username if self.mine_only else None, query=self.query or None,
                                   cursor=cursor or None, limit=PAGE_SIZE)

    async def _reload(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        # Items change status as their workflows run: follow the viewer's own.
        live.watch(self, username=user.username, admin=user.is_admin, owners=frozenset([user.username]))
        page = self._list(user.username)
        self.rows = [item_row(i) for i in page.items]
        self.next_cursor = page.next_cursor or ""
        self.bounded = page.bounded
        self.loaded = True

    @rx.event
    async def load(self):
        self.form_error = ""
        got, problems = address.parse(ITEMS_ADDRESS, self.router.url.query_parameters)  # type: ignore[attr-defined]
        self.subtype_filter, self.query, self.mine_only = got["kind"], got["q"], got["mine"]
        self.link_problem = address.said(problems)
        try:
            return await self._reload()
        except InvalidInput as exc:  # a search the registry refuses: the list unfiltered, and why
            self.query, self.link_problem = "", address.said([*problems, f"the search: {exc.message}"])
            return await self._reload()

    async def _go(self):
        """The filters now set, at their own address (a history entry: back returns to
        the filters before); read again when it is the address shown."""
        to = address.moved(routes.ITEMS, ITEMS_ADDRESS, self.router.url.query_parameters,  # type: ignore[attr-defined]
                           {"kind": self.subtype_filter, "q": self.query, "mine": self.mine_only})
        return rx.redirect(to) if to else await self._reload()

    @rx.event
    async def load_more(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        page = self._list(user.username, self.next_cursor)
        have = {r.id for r in self.rows}
        self.rows = self.rows + [item_row(i) for i in page.items if i.id not in have]
        self.next_cursor = page.next_cursor or ""
        self.bounded = page.bounded

    @rx.event
    async def set_subtype_filter(self, value: str):
        self.subtype_filter = value if value in ITEM_SUBTYPES else ANY
        return await self._go()

    @rx.event
    async def set_mine_only(self, value: bool):
        self.mine_only = bool(value)
        return await self._go()

    @rx.event
    async def apply_query(self, form: dict[str, Any]):
        query = str(form.get("q", "")).strip()
        try:  # refused here, as the registry would (e.g. a control character pasted in)
            check_text(query, "q")
        except InvalidInput as exc:
            return rx.toast.error(f"Search: {exc.message}")
        if len(query) > address.MAX_TEXT:
            return rx.toast.error(f"Search: at most {address.MAX_TEXT} characters.")
        self.query = query
        return await self._go()

    @rx.event
    def set_form_open(self, value: bool):
        self.form_open = bool(value)
        self.form_error = self.form_field = ""

    @rx.event
    def set_form_subtype(self, value: str):
        self.form_subtype = value

    @rx.event
    async def create(self, form: dict[str, Any]):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        name = str(form.get("display_name", "")).strip()
        if not name:
            self.form_error = refused(InvalidInput("Give the item a name.", field="display_name"), "items.create")
            self.form_field = "display_name"
            return
        try:
            item, job = registry.create_item(actor=user, subtype=self.form_subtype, display_name=name,
                                             description=str(form.get("description", "")).strip(),
                                             record=item_kinds.record_from_form(self.form_subtype, form))
        except InvalidInput as exc:
            self.form_error, self.form_field = refused(exc, "items.create"), exc.field or ""
            return
        except JobdeckError as exc:
            self.form_error = refused(exc, "items.create")
            return
        self.form_open = False
        self.form_error = self.form_field = ""
        return [rx.redirect(routes.item(item.id)),
                rx.toast.success(f"{item.display_name!r} created; its create workflow is running.")]

    async def _live(self, events: list[dict[str, Any]], burst: live.Burst) -> None:
        shown = {r.id: i for i, r in enumerate(self.rows)}
        touched = {ev.get("entity_id") for ev in events} & set(shown)
        if not touched:
            return
        found = burst.memo(("items", tuple(sorted(touched))), lambda: queries.items_by_ids(list(touched)))
        rows = list(self.rows)
        for item in found.values():
            rows[shown[item.id]] = item_row(item)
        self.rows = rows

    async def _live_resync(self) -> None:
        await self._reload()

