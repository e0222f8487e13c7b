"""A local HubSpot portal over real HTTP on loopback, for the unmodified hubspot-api-client.

```python
with HubSpotSandbox(ten_second_limit=None, daily_limit=None, search_per_second=5) as sb:
    client = hubspot.Client.create(access_token=sb.token, host=sb.url)
    sb.state.add_contact("a@x.com", firstname="A")
```

Covers CRM v3 contacts (basic, batch, search) and Lists v3 with memberships, bearer auth with expiry and
OAuth refresh, and HubSpot's rate limits. Wire facts and what is unconfirmed are noted in each module.
"""

from .sandbox import HubSpotSandbox
from .spec import SANDBOX
from .state import HubSpotState
from .values import ManualClock

__all__ = ["SANDBOX", "HubSpotSandbox", "HubSpotState", "ManualClock"]
