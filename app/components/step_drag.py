"""A pipeline step's row in the editor, reordered by dragging its grip onto another
step's row (assets/step_drag.jsx: the browser's own drag and drop). The drop is one
event, `on_move(from, to)`; nothing is sent while dragging."""

from __future__ import annotations

import reflex as rx
from reflex.event import passthrough_event_spec
from reflex.vars import Var


class StepDrag(rx.Component):
    library = "$/public/step_drag.jsx"
    tag = "StepDrag"

    index: Var[int]

    on_move: rx.EventHandler[passthrough_event_spec(int, int)]


def step_drag(*children: rx.Component, index, on_move) -> rx.Component:
    return StepDrag.create(*children, index=index, on_move=on_move, class_name="step-drag")
