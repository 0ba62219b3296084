import os

import reflex as rx

# One port serves the page, the websocket and /api (prod --single-port).
_port = int(os.environ.get("JOBDECK_PORT", "3000"))

# Each tab's state lives in this process's memory (the disk manager pickles every touched
# tab every 2 s); a page reads the database on load, so a restart loses nothing. With
# REFLEX_REDIS_URL set (several web backends), Reflex keeps it in Redis instead.
_state_mode = "redis" if os.environ.get("REFLEX_REDIS_URL") else "memory"

config = rx.Config(
    app_name="app",
    show_built_with_reflex=False,
    telemetry_enabled=False,
    frontend_port=_port,
    backend_port=_port,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(appearance="inherit", accent_color="indigo"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
    state_manager_mode=_state_mode,
)
