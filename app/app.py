"""Builds the Reflex app and adds the pages; nothing else lives here."""

import reflex as rx

from app.api import build_api
from app.pages.home import home

app = rx.App(api_transformer=build_api())
app.add_page(home, route="/", title="Jobdeck")
