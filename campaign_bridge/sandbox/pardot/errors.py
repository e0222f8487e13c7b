"""Account Engagement v5 error answers: ``{"code": <int>, "message": "…"}`` with a coarse HTTP status.

Codes and messages [D]: the v5 overview and error-code page (vendor-facts.md, Pardot v5). HTTP statuses
for them are [U] except where noted: v5 documents the status as coarse (400, 404, 405) and the meaning as
the code; the emulator answers 401 for a bad token and 429 for the two limits, as clients key on the code
either way.
"""

from __future__ import annotations

from ..http import Response

MISSING_HEADER = 181  # "A required header is missing" (Pardot-Business-Unit-Id with a Salesforce token)
BAD_TOKEN = 184  # "access_token is invalid, unknown, or malformed"
UNKNOWN_BUSINESS_UNIT = 201  # business unit not found or inactive; also the wrong host (pi vs pi.demo)
CONCURRENT_LIMIT = 66
DAILY_LIMIT = 122
ALREADY_A_MEMBER = 58
INVALID_LIST = 55
INVALID_METHOD = 60
NOT_FOUND = 192
TOO_MANY_FILTERS = 209
PAGE_TOKEN_EXPIRED = 210
PAGE_TOKEN_INVALID = 211
INVALID_FIELDS = 224
#: [U] codes: the sandbox's choice where v5's own number is not confirmed.
INVALID_PARAMETER = 45
INVALID_EMAIL = 65
DUPLICATE_EMAIL = 54
DYNAMIC_LIST = 56
INVALID_CAMPAIGN = 59

MESSAGES = {
    MISSING_HEADER: "A required header is missing. Pardot-Business-Unit-Id",
    BAD_TOKEN: "access_token is invalid, unknown, or malformed",
    UNKNOWN_BUSINESS_UNIT: "Invalid Business Unit ID or the Business Unit is inactive",
    CONCURRENT_LIMIT: "You have exceeded your concurrent request limit. Please wait, before trying again.",
    DAILY_LIMIT: "You have exceeded your daily API request limit.",
    ALREADY_A_MEMBER: "That prospect is already a member of that list. Update the membership instead.",
}


class ApiError(Exception):
    """Raised by handlers; becomes the v5 error body."""

    def __init__(self, status: int, code: int, message: str | None = None) -> None:
        super().__init__(message or MESSAGES.get(code, "error"))
        self.status, self.code = status, code

    def response(self) -> Response:
        return Response(self.status, {"code": self.code, "message": str(self)})


def bad_request(code: int, message: str | None = None) -> ApiError:
    return ApiError(400, code, message)
