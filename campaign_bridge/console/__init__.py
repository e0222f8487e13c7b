"""The admin console: a web UI over the client files and their state (docs/console.md).

state.py    ``Console``: the client files, their stores, the runs started from the pages (live progress)
auth.py     logins (users with Argon2 hashes, the admin token, a reverse proxy's header), roles, CSRF
web.py      templates, and the wrapper every page goes through (login, role, CSRF, refusals)
pages.py    the pages that read: overview, rule, conflicts (+ CSV), explain, reconcile, dead letters, audit
actions.py  the changes: run now, plan preview, approve/discard a held plan, reconcile, repair, retry,
            editing a client file
editing.py  checking a client file's text as ``validate --offline`` does, problems by line, diffs
chart.py    a rule's history as inline SVG
app.py      the ASGI app: routes, login/logout, security headers, static files

``campaign-bridge ui`` serves it alone; ``serve`` carries it next to ``/healthz`` and ``/metrics``.
"""

from campaign_bridge.console.app import console_app
from campaign_bridge.console.state import Console

__all__ = ["Console", "console_app"]
