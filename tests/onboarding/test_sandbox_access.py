"""What the sandboxes say about the integration user, on the wire: Salesforce's describe permissions and
HubSpot's token info, as ``doctor`` reads them."""

from __future__ import annotations

import requests

from tests.onboarding.conftest import Site


def test_hubspot_private_app_token_info_names_the_portal_and_its_scopes(restore: Site) -> None:
    hs = restore.info()["hubspot"]
    url = f"{hs['base_url']}/oauth/v2/private-apps/get/access-token-info"
    token = hs["auth"]["private_app"]["token"]
    answer = requests.post(url, json={"tokenKey": token}, timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"userId", "hubId", "appId", "scopes"}
    assert "crm.lists.write" in body["scopes"]
    restore.hubspot.state.scopes = ["crm.lists.read"]
    assert requests.post(url, json={"tokenKey": token}, timeout=10).json()["scopes"] == ["crm.lists.read"]
    unknown = requests.post(url, json={"tokenKey": "pat-na1-unknown"}, timeout=10)
    assert unknown.status_code == 404
    assert unknown.json()["category"] == "OBJECT_NOT_FOUND"


def test_salesforce_describe_reports_a_revoked_permission_for_the_user(restore: Site) -> None:
    sf = restore.info()["salesforce"]
    grant = requests.post(
        sf["token_url"],
        data={
            "grant_type": "client_credentials",
            "client_id": sf["auth"]["client_credentials"]["client_id"],
            "client_secret": sf["auth"]["client_credentials"]["client_secret"],
        },
        verify=sf["ca_bundle"],
        timeout=10,
    ).json()
    headers = {"Authorization": f"Bearer {grant['access_token']}"}
    base = f"{grant['instance_url']}/services/data/v59.0/sobjects"
    restore.salesforce.state.revoked["CampaignMember"] = {"deletable"}
    listed = requests.get(base, headers=headers, verify=sf["ca_bundle"], timeout=10).json()
    [member] = [o for o in listed["sobjects"] if o["name"] == "CampaignMember"]
    assert (member["createable"], member["deletable"]) == (True, False)
    described = requests.get(f"{base}/CampaignMember/describe", headers=headers, verify=sf["ca_bundle"], timeout=10)
    assert described.json()["deletable"] is False
