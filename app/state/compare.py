"""State of the compare page (/jobs/compare?a=…&b=…): two jobs or runs side by side."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import reflex as rx

from app import compare
from app.errors import JobdeckError
from app.state.base import sign_in_redirect, viewer

SECTIONS = ("parameters", "inputs", "outputs", "code", "environment", "timings", "packages")


def _rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [[r["name"], "—" if r["a"] is None else str(r["a"]), "—" if r["b"] is None else str(r["b"]),
             "same" if r["same"] else "differs"] for r in rows]


class CompareState(rx.State):
    a: str = ""
    b: str = ""
    scope: str = ""  # "" lets the server choose (runs when both are runs)
    loaded: bool = False
    error: str = ""
    shown_scope: str = ""
    a_name: str = ""
    b_name: str = ""
    a_status: str = ""
    b_status: str = ""
    verdict: str = ""  # match | mismatch | waiting
    reproduction: str = ""  # a sentence when one reproduces the other
    parameters: list[list[str]] = []
    inputs: list[list[str]] = []
    outputs: list[list[str]] = []
    code: list[list[str]] = []
    environment: list[list[str]] = []
    timings: list[list[str]] = []
    packages: list[list[str]] = []

    @rx.event
    async def load(self):
        user = await viewer(self)
        if user is None:
            return await sign_in_redirect(self)
        q = self.router.url.query_parameters  # type: ignore[attr-defined]
        self.a, self.b = q.get("a", "").strip()[:64], q.get("b", "").strip()[:64]
        self.scope = q.get("scope", "") if q.get("scope", "") in compare.SCOPES else ""
        self.error, self.loaded, self.a_name = "", False, ""
        for name in SECTIONS:
            setattr(self, name, [])
        if self.a and self.b:
            try:
                d = await asyncio.to_thread(compare.diff, actor=user, a=self.a, b=self.b, scope=self.scope or None)
            except JobdeckError as exc:
                self.error = exc.message
            else:
                self._show(d)
        self.loaded = True

    def _show(self, d: dict[str, Any]) -> None:
        self.shown_scope = d["scope"]
        self.a_name, self.b_name = d["a"]["name"], d["b"]["name"]
        self.a_status, self.b_status = d["a"]["status"], d["b"]["status"]
        m = d["outputs_match"]
        self.verdict = "waiting" if m is None else "match" if m else "mismatch"
        link = d.get("reproduction")
        self.reproduction = (f"{'B' if link['job_id'] == d['b']['id'] else 'A'} reproduces "
                             f"{'A' if link['job_id'] == d['b']['id'] else 'B'}.") if link else ""
        for name in SECTIONS:
            setattr(self, name, _rows(d["sections"].get(name, [])))

    @rx.event
    def submit(self, form: dict[str, Any]):
        a, b = str(form.get("a") or "").strip()[:64], str(form.get("b") or "").strip()[:64]
        scope = str(form.get("scope") or "")
        url = f"/jobs/compare?a={quote(a)}&b={quote(b)}"
        if scope in compare.SCOPES:
            url += f"&scope={scope}"
        return rx.redirect(url)
