"""What HubSpot says about an access token: its portal, its app and the scopes it was granted.

* A private app's token: ``POST /oauth/v2/private-apps/get/access-token-info`` with ``{"tokenKey": token}``
  answers ``{"userId", "hubId", "appId", "scopes": [...]}`` [D: developers.hubspot.com, "Private apps",
  the section on retrieving an access token's information]. No ``Authorization`` header is needed: the
  token is the body. The answer for an unknown token is [U]; the sandbox answers 404 ``OBJECT_NOT_FOUND``
  in HubSpot's error envelope, as the OAuth token-info endpoint does.
* An OAuth access token: ``GET /oauth/v1/access-tokens/{token}`` (in ``app.py``) answers ``{"token",
  "hub_id", "app_id", "user_id", "expires_in", "token_type", "scopes"}`` [D: "Retrieve OAuth token metadata"].

Both report the portal's granted scopes, ``HubSpotState.scopes`` (a test narrows them to see ``doctor`` name
what is missing). The sandbox does not refuse a call for a missing scope (HubSpot answers 403
``MISSING_SCOPES``): the scopes serve ``campaign-bridge doctor``, not a run.
"""

from __future__ import annotations

import json

from campaign_bridge.sandbox.http import Request, Response
from campaign_bridge.sandbox.hubspot.errors import envelope
from campaign_bridge.sandbox.hubspot.state import HubSpotState

PRIVATE_APP_TOKEN_INFO = "/oauth/v2/private-apps/get/access-token-info"
#: The user id the sandbox's tokens belong to (the super admin who created the private app).
SANDBOX_USER_ID = 2_000_001


def private_app_token_info(state: HubSpotState, request: Request) -> Response:
    """The private app token's portal, app, user and scopes; 404 for a token the portal does not know."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return Response(400, envelope("Invalid input JSON", "VALIDATION_ERROR"))
    key = body.get("tokenKey") if isinstance(body, dict) else None
    with state.lock:
        known = state.tokens.get(key) if isinstance(key, str) else None
        if known is None or known.kind != "private_app":
            return Response(404, envelope("Token not found", "OBJECT_NOT_FOUND"))
        answer = {
            "userId": SANDBOX_USER_ID,
            "hubId": state.limits.portal_id,
            "appId": state.limits.app_id,
            "scopes": list(state.scopes),
        }
    return Response(200, answer)
