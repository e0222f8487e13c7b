"""The integration user's object permissions, as a describe reports them.

Salesforce's describe answers for the user who asks: ``GET /sobjects`` (describeGlobal) and
``GET /sobjects/{name}/describe`` give ``queryable``, ``createable``, ``updateable`` and ``deletable`` as that
user's profile and permission sets allow (the REST API Developer Guide, "Describe Global" and "sObject
Describe": "createable: Indicates whether the object can be created via the create() call", for the
logged-in user). The sandbox's user may do everything unless a test revokes a permission
(``SalesforceState.revoked``: object name → the permissions it lacks), which describe then reports false.

Only describe reflects a revocation: the sandbox's writes do not enforce it (a real org answers such a
write with ``INSUFFICIENT_ACCESS_OR_READONLY``), so it serves ``campaign-bridge doctor``, not a run.
"""

from __future__ import annotations

from typing import Any

#: The object-level permissions a describe reports for the running user.
OBJECT_PERMISSIONS = ("queryable", "createable", "updateable", "deletable")


def as_permitted(revoked: dict[str, set[str]], name: str, description: dict[str, Any]) -> dict[str, Any]:
    """``description`` of object ``name`` with each permission ``revoked`` for it answered false."""
    lacking = revoked.get(name, set())
    return {**description, **{p: False for p in OBJECT_PERMISSIONS if p in lacking}}
