"""TMF Error bodies (`{code, reason, message, status, referenceError, @type}`)
and the errors the API answers with. docs/api.md lists every code."""

from __future__ import annotations

from typing import Optional
from urllib.parse import quote

from starlette.responses import JSONResponse

# code -> (HTTP status, reason)
CODES = {
    "invalidBody": (400, "The body is not a readable JSON document"),
    "schemaViolation": (400, "The body does not follow the TMF622 schema"),
    "invalidQuery": (400, "A query parameter cannot be used"),
    "callbackRefused": (400, "Events are not sent to that callback"),
    "unauthorized": (401, "A valid bearer token is required"),
    "forbidden": (403, "The token's role may not do this"),
    "notFound": (404, "No such resource"),
    "methodNotAllowed": (405, "The resource does not take this method"),
    "pointOfNoReturn": (409, "The order is past a point of no return"),
    "refused": (409, "The order refused the change"),
    "lengthRequired": (411, "A Content-Length is required"),
    "bodyTooLarge": (413, "The body is over the size limit"),
    "unsupportedMediaType": (415, "The body's media type is not taken here"),
    "unavailable": (503, "The engine cannot act now; nothing was done, try again"),
}
_BY_STATUS = {400: "invalidBody", 411: "lengthRequired", 413: "bodyTooLarge"}


class ApiError(Exception):
    def __init__(self, code: str, message: str, pointer: Optional[str] = None, headers: Optional[dict] = None):
        super().__init__(message)
        self.code, self.message, self.pointer, self.headers = code, message, pointer, headers or {}
        self.status, self.reason = CODES[code] if code in CODES else (400, "")

    @classmethod
    def rejection(cls, error: dict, pointer: Optional[str]) -> "ApiError":
        """An order or revision the planner rejects, as om_dsl.tmf622.errors words it (its code is the rule's family)."""
        exc = cls.__new__(cls)
        Exception.__init__(exc, error["message"])
        exc.code, exc.message, exc.pointer, exc.headers = error["code"], error["message"], pointer, {}
        exc.status, exc.reason = int(error["status"]), error["reason"]
        return exc


def code_for_status(status: int) -> str:
    return _BY_STATUS.get(status, "invalidBody")


def error_body(code: str, message: str, reference: Optional[str] = None, status: Optional[int] = None, reason: Optional[str] = None) -> dict:
    if status is None:
        status, reason = CODES[code]
    body = {"@type": "Error", "code": code, "reason": reason, "message": message, "status": str(status)}
    if reference:
        body["referenceError"] = reference
    return body


def error_response(exc: ApiError, url: str) -> JSONResponse:
    """`referenceError`: the field at fault, as a JSON pointer in the fragment of the URL the body was sent to."""
    reference = f"{url.split('#')[0]}#{quote(exc.pointer, safe='/~@')}" if exc.pointer is not None else None
    return JSONResponse(error_body(exc.code, exc.message, reference, exc.status, exc.reason), exc.status, headers=exc.headers)
