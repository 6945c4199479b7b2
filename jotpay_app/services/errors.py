"""Errors services raise for the UI to show."""

from __future__ import annotations


class NotFoundError(LookupError):
    """The object does not exist *for this practice/clinician*: never reveal which."""


class FieldErrors(ValueError):
    """Validation failed; `errors` maps a form field name to its message. Nothing was saved."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
