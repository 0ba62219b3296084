import os

import reflex as rx

# One port serves the page, the websocket and /api (prod --single-port).
_port = int(os.environ.get("JOBDECK_PORT", "3000"))

config = rx.Config(
    app_name="app",
    show_built_with_reflex=False,
    telemetry_enabled=False,
    frontend_port=_port,
    backend_port=_port,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(appearance="inherit", accent_color="indigo"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
