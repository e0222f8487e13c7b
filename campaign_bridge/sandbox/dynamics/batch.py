"""``$batch`` as Dataverse answers it [D: Learn "Execute batch operations using the Web API"]: a
multipart/mixed body of at most 1,000 requests, each part an HTTP request; a change set (a nested
multipart) is all or nothing; without ``Prefer: odata.continue-on-error`` the batch stops at the first
failed request; the answer is multipart/mixed with one HTTP answer per request, a change set's in a nested
part."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs, urlsplit

from ..http import Request, Response
from .state import OrgState

API = "/api/data/v9.2"
MAX_BATCH = 1000


def error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


def run_batch(request: Request, answer_of: Callable[[Request], Response], state: OrgState) -> Response:
    """Answer a ``$batch``: each inner request through ``answer_of`` (the Web API, already authenticated by
    the batch's token); a failed change set restores ``state`` as it was before it."""
    boundary = _boundary(request.headers.get("content-type", ""))
    if boundary is None:
        return error(400, "0x80060891", "The batch request must be multipart/mixed with a boundary.")
    try:
        parts = list(_parts(request.body, boundary))
    except ValueError as exc:
        return error(400, "0x80060891", f"The batch request body is malformed: {exc}")
    total = sum(len(p) if isinstance(p, list) else 1 for p in parts)
    if total > MAX_BATCH:
        return error(400, "0x80060891", f"Number of requests in a batch exceeds the limit of {MAX_BATCH}.")
    go_on = "odata.continue-on-error" in request.headers.get("prefer", "")
    out_boundary = f"batchresponse_{uuid.uuid4()}"
    chunks: list[str] = []
    for part in parts:
        if isinstance(part, list):  # a change set: all or nothing
            saved = state.snapshot()
            answers = []
            failed = None
            for content_id, inner in part:
                answer = answer_of(inner)
                if answer.status >= 400:
                    failed = (content_id, answer)
                    break
                answers.append((content_id, answer))
            if failed is not None:
                state.restore(saved)
                chunks.append(_http_part(failed[1], failed[0]))
                if not go_on:
                    break
            else:
                cs = f"changesetresponse_{uuid.uuid4()}"
                body = "".join(f"--{cs}\r\n{_http_part(a, cid)}" for cid, a in answers) + f"--{cs}--\r\n"
                chunks.append(f"Content-Type: multipart/mixed; boundary={cs}\r\n\r\n{body}")
            continue
        answer = answer_of(part)
        chunks.append(_http_part(answer, None))
        if answer.status >= 400 and not go_on:
            break
    payload = "".join(f"--{out_boundary}\r\n{c}" for c in chunks) + f"--{out_boundary}--\r\n"
    return Response(
        200, payload, content_type=f"multipart/mixed; boundary={out_boundary}", headers={"OData-Version": "4.0"}
    )


def _boundary(content_type: str) -> str | None:
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    return m.group(1) if m else None


def _parts(body: bytes, boundary: str) -> Iterable[Request | list[tuple[str | None, Request]]]:
    """The batch's requests: a ``Request`` per top-level part, a list per change set."""
    text = body.decode("utf-8")
    for chunk in _chunks(text, boundary):
        head, _, rest = chunk.partition("\r\n\r\n")
        headers = _headers(head)
        inner_boundary = _boundary(headers.get("content-type", ""))
        if inner_boundary is not None:
            changeset = []
            for sub in _chunks(rest, inner_boundary):
                sub_head, _, sub_rest = sub.partition("\r\n\r\n")
                changeset.append((_headers(sub_head).get("content-id"), _http_request(sub_rest)))
            yield changeset
        else:
            yield _http_request(rest)


def _chunks(text: str, boundary: str) -> list[str]:
    marker = f"--{boundary}"
    if marker not in text:
        raise ValueError(f"no part starts with --{boundary}")
    pieces = text.split(marker)[1:]
    out = []
    for piece in pieces:
        if piece.startswith("--"):
            break
        out.append(piece.lstrip("\r\n"))
    return out


def _headers(block: str) -> dict[str, str]:
    out = {}
    for line in block.replace("\r\n", "\n").split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


def _http_request(text: str) -> Request:
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    lines = head.strip("\n").split("\n")
    method, url, _ = (lines[0].split(" ") + ["", ""])[:3]
    if not method or not url:
        raise ValueError(f"a part has no request line: {lines[0]!r}")
    parts = urlsplit(url)
    path = parts.path if parts.path.startswith(API) else f"{API}/{parts.path.lstrip('/')}"
    return Request(
        method.upper(),
        path,
        parse_qs(parts.query, keep_blank_values=True),
        _headers("\n".join(lines[1:])),
        body.rstrip("\n").encode("utf-8"),
    )


_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def _http_part(answer: Response, content_id: str | None) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    lines = [f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Status')}"]
    payload = answer.encoded().decode("utf-8")
    if payload:
        lines.append("Content-Type: application/json; odata.metadata=minimal")
    lines += [f"{k}: {v}" for k, v in answer.headers.items()]
    return f"{head}\r\n" + "\r\n".join(lines) + "\r\n\r\n" + (payload + "\r\n" if payload else "")
