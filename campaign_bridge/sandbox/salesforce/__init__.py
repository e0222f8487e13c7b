"""A faithful local emulator of the Salesforce APIs campaign-bridge uses (REST, SOQL, sObject
Collections, Bulk API 2.0, SOAP and OAuth logins), served over HTTPS on loopback.

``SalesforceSandbox`` is the entry point; ``sb.state`` is the org (``SalesforceState``) with its seeding
helpers. Module map: ``schema`` (objects and fields), ``store`` (records, indexes, undo), ``dml``
(validation), ``soql`` (parser), ``query`` (evaluation), ``rest``/``composite``/``bulk``/``auth``
(resources), ``app`` (sessions, limits, errors), ``transport`` (routing ``*.salesforce.com`` here),
``spec`` (how ``sandbox serve``, saved state and the demo start, seed and save it).
"""

from .errors import ApiError, RecordError
from .sandbox import SalesforceSandbox
from .spec import SANDBOX
from .state import SalesforceState

__all__ = ["SANDBOX", "ApiError", "RecordError", "SalesforceSandbox", "SalesforceState"]
