"""One browser tab's console states in the test's process: an event handler run on them
as the websocket's event would run it (the handler itself, its `get_state` reaching the
tab's other states, the tab's address and page as Reflex gives them), signed in with a
real console sign-in."""

from __future__ import annotations

import asyncio
import inspect

from reflex.istate.data import ReflexURL, RouterData, SessionData
from reflex.state import State

from app import signin
from app.state.base import AuthState

TAB = "198.51.100.7"


class Tab:
    def __init__(self, who: str, address: str = TAB):
        self.root = State(_reflex_internal_init=True)
        self.address = address
        self.at("/")
        self.state(AuthState).sign_in_value = signin.sign_in(who, f"{who}-password")[1]

    def state(self, cls):
        return self.root.get_substate(cls.get_full_name().split(".")[1:])

    def at(self, path: str) -> "Tab":
        """The page the tab shows: what `router` says (its address, its URL) to the
        states an event reads it in."""
        self.router = RouterData(session=SessionData(client_ip=self.address), url=ReflexURL(f"http://console{path}"))
        self.state(AuthState).router = self.router
        return self

    def fire(self, cls, handler: str, *args):
        """Run `cls.handler(*args)` on this tab; what it gives back (every update of one
        that yields)."""
        sub = self.state(cls)
        sub.router = self.router
        fn = getattr(cls, handler).fn

        async def run():
            got = fn(sub, *args)
            if inspect.isasyncgen(got):
                return [x async for x in got]
            return await got

        return asyncio.run(run())
