"""Errors in the JSON shape Stripe uses, so the official SDK maps them to its exception classes.

The SDK picks the exception from the HTTP status and `error.type`: 400/404 ->
InvalidRequestError (or IdempotencyError for type `idempotency_error`), 401 ->
AuthenticationError, 402 -> CardError, 403 -> PermissionError, 5xx -> APIError.
"""

from __future__ import annotations

from typing import Any

DOCS_ERROR_CODES = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    """An API error answered as `{"error": {...}}` with the matching HTTP status."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "type": self.error_type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "decline_code": self.decline_code,
        }
        if self.code:
            error["doc_url"] = DOCS_ERROR_CODES + self.code.replace("_", "-")
        error.update(self.extra)
        return {"error": error}


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> StripeError:
    return StripeError(status, "invalid_request_error", message, code=code, param=param)


def missing_param(param: str) -> StripeError:
    return invalid_request(
        f"Missing required param: {param}.", param=param, code="parameter_missing"
    )


def no_such(kind: str, object_id: str, *, param: str = "id") -> StripeError:
    return invalid_request(
        f"No such {kind}: '{object_id}'", param=param, code="resource_missing", status=404
    )


def authentication_error(message: str) -> StripeError:
    # Stripe answers bad keys with 401 and type invalid_request_error.
    return StripeError(401, "invalid_request_error", message)


def permission_error(message: str, *, code: str | None = None) -> StripeError:
    return StripeError(403, "invalid_request_error", message, code=code)


def idempotency_error(message: str) -> StripeError:
    return StripeError(400, "idempotency_error", message)


def api_error(message: str) -> StripeError:
    return StripeError(500, "api_error", message)
