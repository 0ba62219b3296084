import os

import reflex as rx

from app.settings import get_settings

# One port serves the page, the websocket and /api (prod --single-port).
_port = int(os.environ.get("JOBDECK_PORT", "3000"))

# Each tab's state lives in this process's memory (the disk manager pickles every touched
# tab every 2 s); a page reads the database on load, so a restart loses only what the
# person chose (filters, search). With JOBDECK_STATE_REDIS_URL set (several web
# backends), Reflex keeps every tab's state in Redis: any backend can load it and a
# restart loses nothing. Reflex's keys take no prefix: give them a Redis database of
# their own (docs/operating.md).
_state_redis = get_settings().state_redis_url or os.environ.get("REFLEX_REDIS_URL", "")
_state_mode = "redis" if _state_redis else "memory"
# With Redis state Reflex would start 2 x cores + 1 server processes per console; one
# per console process unless GRANIAN_WORKERS says otherwise: several backends are
# several console processes (or hosts) behind the load balancer.
os.environ.setdefault("GRANIAN_WORKERS", "1")

config = rx.Config(
    app_name="app",
    show_built_with_reflex=False,
    telemetry_enabled=False,
    frontend_port=_port,
    backend_port=_port,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(appearance="inherit", accent_color="indigo"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
    state_manager_mode=_state_mode,
    redis_url=_state_redis or None,
    # Reflex puts a CORS layer (credentials allowed) around the API and the whole app;
    # Reflex's default "*" would let any site call in as the signed-in person. Only the
    # configured origins (none by default); the websocket's own check is in
    # app/web_security.py.
    cors_allowed_origins=list(get_settings().cors_origins),
)
