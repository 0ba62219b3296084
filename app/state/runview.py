"""A pipeline run as its page shows it beyond its state: the graph of its steps (an
order per row, parallel steps side by side as lanes, every step of an order joined to
every step of the next, steps not lodged yet drawn as planned from the run's plan),
every file every step kept in one table, download all as one zip, and Run again.

The job page's state (app.state.job) builds the graph and the files' rows on each
read, live pushes included; the actions live here, in a state of their own.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import reflex as rx

from app import compare, files, launch, routes, runfiles, runs
from app.aa_compat import anonymous_viewer
from app.errors import JobdeckError, NotFound
from app.models import Job
from app.state.base import AuthState, sign_in_redirect, viewer
from app.state.views import human_size

COLUMN_W, ROW_H, NODE_W = 220, 100, 190
LIVE = ("PENDING", "DEQUEUED", "IN_PROGRESS")
WORDS = {"PENDING": "pending", "DEQUEUED": "taken by a worker", "IN_PROGRESS": "in progress",
         "SUCCEEDED": "succeeded", "FAILED": "failed", "CRASHED": "crashed", "CANCELLED": "cancelled",
         "PLANNED": "planned: not started yet"}


def _lanes(steps: list[Job]) -> dict[int, list[dict[str, Any]]]:
    """Each order's lanes in place order: the lodged step where there is one, else the
    plan's step (a later order not lodged yet)."""
    root = next((j for j in steps if runs.is_root(j)), None)
    plan = ((root.payload or {}).get("plan") or []) if root is not None else []
    lodged = {(j.step or 0, int((j.payload or {}).get("index") or 0)): j for j in steps}
    orders: dict[int, list[dict[str, Any]]] = {}
    for p in plan:
        order = int(p.get("order") or 0)
        lane = len(orders.setdefault(order, []))
        orders[order].append({"order": order, "lane": lane, "task": str(p.get("task") or ""),
                              "job": lodged.pop((order, lane), None)})
    for (order, lane), j in sorted(lodged.items()):  # a step the plan does not name (older runs)
        orders.setdefault(order, []).append({"order": order, "lane": len(orders[order]),
                                             "task": runs.step_name(j.payload), "job": j})
    return dict(sorted(orders.items()))


def graph_of(steps: list[Job], current_id: str = "") -> tuple[list[dict], list[dict], int]:
    """React Flow nodes and edges of a run, and the height (px) that shows it whole."""
    return _graph(_lanes(steps), current_id)


def plan_graph(steps: list[tuple[int, str]]) -> tuple[list[dict], list[dict], int]:
    """The graph a run of (order, task name) steps would start with, every step planned
    (the configuration page's preview of a pipeline before it is saved)."""
    orders: dict[int, list[dict[str, Any]]] = {}
    for order, task in sorted(steps, key=lambda st: st[0]):
        lanes = orders.setdefault(order, [])
        lanes.append({"order": order, "lane": len(lanes), "task": task, "job": None})
    return _graph(orders, "")


def _graph(orders: dict[int, list[dict[str, Any]]], current_id: str) -> tuple[list[dict], list[dict], int]:
    nodes, edges, widest = [], [], 1
    keys: list[list[tuple[str, str]]] = []  # per order: (node id, status)
    for row, (order, lanes) in enumerate(orders.items()):
        widest = max(widest, len(lanes))
        here = []
        for lane in lanes:
            j: Optional[Job] = lane["job"]
            status = j.status if j is not None else "PLANNED"
            nid = j.id if j is not None else f"planned/{order}/{lane['lane']}"
            attempt = f" · attempt {j.attempt}" if j is not None and j.attempt > 1 else ""
            x = (lane["lane"] - (len(lanes) - 1) / 2) * COLUMN_W
            nodes.append({
                "id": nid, "type": "step", "position": {"x": x, "y": row * ROW_H},
                "data": {"task": lane["task"], "status": status, "words": WORDS.get(status, status) + attempt,
                         "order": order, "lane": lane["lane"] + 1, "parallel": len(lanes) > 1,
                         "href": routes.job(j.id) if j is not None else ""},
                "className": f"run-node status-{status}" + (" run-node-current" if nid == current_id else ""),
                "width": NODE_W, "draggable": False, "connectable": False,
            })
            here.append((nid, status))
        keys.append(here)
    for before, after in zip(keys, keys[1:]):  # the join: every step of an order to every step of the next
        for src, _ in before:
            for dst, status in after:
                edges.append({"id": f"{src}->{dst}", "source": src, "target": dst, "animated": status in LIVE,
                              "markerEnd": {"type": "arrowclosed"},
                              "className": "run-edge-planned" if status == "PLANNED" else "run-edge"})
    height = max(220, min(560, len(orders) * ROW_H + 80 + (40 if widest > 3 else 0)))
    return nodes, edges, height


@dataclasses.dataclass
class RunFileRow:
    job_id: str = ""
    order: int = 0
    task: str = ""
    name: str = ""
    member: str = ""
    size: str = ""
    lane: str = ""  # "lane 2" when its order has parallel steps


def file_rows(found: list[runfiles.RunFile]) -> list[RunFileRow]:
    return [RunFileRow(job_id=f.job_id, order=f.order, task=f.task, name=f.name, member=f.member,
                       size=human_size(f.size), lane=f"lane {f.lane}" if f.parallel else "") for f in found]


def total_of(found: list[runfiles.RunFile]) -> str:
    n = len(found)
    return f"{n} file{'s' if n != 1 else ''}, {human_size(sum(f.size for f in found))}" if n else ""


# Larger files are for the REST API: the console sends a download through its websocket.
MAX_DOWNLOAD_BYTES = 25 * 1024 * 1024


class RunActionsState(rx.State):
    """The run card's actions: Run again, download all (the REST zip, through a ticket),
    and one step's file."""

    starting: bool = False

    def _job_id(self) -> str:
        return routes.id_in(self.router.url.path)

    async def _who(self):
        signed_in = await viewer(self)
        return signed_in, signed_in or anonymous_viewer(self._job_id())

    @rx.event
    async def run_again(self):
        signed_in, user = await self._who()
        if user is None:
            return await sign_in_redirect(self)
        address = None if signed_in else (await self.get_state(AuthState))._client_address()
        self.starting = True
        try:
            new = compare.run_again(actor=user, job_id=self._job_id(), client_addr=address)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        finally:
            self.starting = False
        return [rx.redirect(routes.job(new.id)),
                rx.toast.success("A new run on the same file with the same parameters is running; this is its page.")]

    @rx.event
    async def download_all(self):
        _, user = await self._who()
        if user is None:
            return await sign_in_redirect(self)
        try:
            root, found = runfiles.run_files(actor=user, root_id=self._root_id())
            runfiles.check_size(found)  # refused here, with its reason, rather than as a failed download
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        if not found:
            return rx.toast.info("No step of this run has kept a file yet.")
        return rx.download(url=f"/api/pipelines/runs/{root.id}/files.zip?ticket={runfiles.ticket(user, root.id)}",
                           filename=runfiles.zip_name(root))

    def _root_id(self) -> str:
        from app.db import session

        with session() as s:
            job = s.get(Job, self._job_id())
        rid = runs.root_of(job) if job is not None else None
        if not rid:
            raise NotFound("This job is no step of a pipeline run.")
        return rid

    @rx.event
    async def download_file(self, job_id: str, name: str):
        _, user = await self._who()
        if user is None:
            return await sign_in_redirect(self)
        try:
            if runs.root_of(launch.job_for(user, job_id)) != self._root_id():
                raise NotFound(f"This run has no file {name!r}.")
            jf, path = files.open_job_file(actor=user, job_id=job_id, name=name)
        except JobdeckError as exc:
            return rx.toast.error(exc.message)
        if jf.size > MAX_DOWNLOAD_BYTES:
            return rx.toast.error(f"{name} is {jf.size // (1024 * 1024)} MB; download files this large with "
                                  f"the REST API (GET /api/jobs/{job_id}/files/{name}).")
        return rx.download(data=path.read_bytes(), filename=name)
