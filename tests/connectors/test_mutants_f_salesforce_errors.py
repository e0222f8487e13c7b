"""The words Salesforce sends reach the user whole: only a closing full stop is dropped (the message adds
its own), never the letters of a field name the refusal ends with."""

from __future__ import annotations

from campaign_bridge.connectors.salesforce.errors import translate_status
from campaign_bridge.errors import FatalError


def test_a_refusal_ending_in_a_field_name_keeps_the_name_whole() -> None:
    body = [{"message": "Unable to create/update fields: FAX", "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE"}]
    error = translate_status(400, body, connection="sf", endpoint="sobjects/Lead")
    assert isinstance(error, FatalError)
    assert str(error).startswith(
        "sf: Salesforce sobjects/Lead answered 400 INVALID_FIELD_FOR_INSERT_UPDATE: Unable to create/update fields: FAX."
    )


def test_the_vendor_s_own_full_stop_is_not_doubled() -> None:
    body = [{"message": "The requested resource does not exist.", "errorCode": "NOT_FOUND"}]
    error = translate_status(404, body, connection="sf", endpoint="sobjects/Campaign/701")
    assert (
        str(error)
        == "sf: Salesforce sobjects/Campaign/701 answered 404 NOT_FOUND: The requested resource does not exist."
    )
