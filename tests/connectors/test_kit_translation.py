"""What the kit's error table says, word for word: every row keeps the connector's whole message (the
user reads it in the run's error), and a certificate the connection does not trust names the cure."""

from __future__ import annotations

import pytest
import requests

from campaign_bridge.connectors.kit.errors import DEFAULT_TABLE, NO_ANSWER, Failure, requests_failure


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 408, 409, 418, 429, 502, NO_ANSWER])
def test_every_row_keeps_the_connectors_message(status: int) -> None:
    text = f"crm: Salesforce GET /query answered {status} SOME_CODE: the vendor's words"
    error = DEFAULT_TABLE.translate(Failure(status, "SOME_CODE", "the vendor's words", text))
    assert str(error) == text


def test_an_untrusted_certificate_names_the_setting_that_cures_it() -> None:
    error = requests_failure(
        requests.exceptions.SSLError("certificate verify failed"),
        connection="crm",
        vendor="Salesforce",
        endpoint="query",
    )
    assert str(error) == (
        "crm: TLS verification failed for Salesforce (SSLError); set ca_bundle to the CA that signed the "
        "server's certificate"
    )
