"""A local Dynamics 365 organisation (Dataverse Web API v9.2) and its Entra ID tenant over HTTPS on loopback,
for msal and the unmodified PowerPlatform-Dataverse-Client.

```python
with DynamicsSandbox() as sb:
    sb.state.add_contact("a@x.com", "Ada", "Lovelace")
    # msal: authority f"{sb.url}/{tenant}", instance_discovery=False; Web API: f"{sb.url}/api/data/v9.2"
```

Wire facts and what is unconfirmed are written in each module (``app.py``, ``auth.py``, ``odata.py``,
``state.py``, ``limits.py``).
"""

from .sandbox import DynamicsSandbox
from .spec import SANDBOX
from .state import OrgState

__all__ = ["SANDBOX", "DynamicsSandbox", "OrgState"]
