"""A local Marketo Engage instance over real HTTP on loopback, for the unmodified marketorestpython and for
campaign-bridge's connector.

```python
with MarketoSandbox(per_window=100, concurrent=10) as sb:
    mc = MarketoClient("000-AAA-000", sb.client_id, sb.client_secret)
    mc.host = sb.url  # the client keeps the host in an attribute
    lead = sb.state.add_lead("a@x.com", firstName="A")
```

Covers the identity endpoint, leads (by filter, sync), static lists and their members, smart lists, programs
with their channels' statuses and members, activities with paging tokens, bulk lead extract, and Marketo's
limits (100 calls / 20 s, 10 concurrent, the daily quota) answered as HTTP 200 with ``success: false``. Wire
facts, their sources and what is unconfirmed are noted in each module.
"""

from .sandbox import MarketoSandbox
from .spec import SANDBOX
from .state import MarketoState

__all__ = ["SANDBOX", "MarketoSandbox", "MarketoState"]
