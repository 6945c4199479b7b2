"""Mobile numbers: parsed with `phonenumbers` (US default), stored in E.164."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "US"


class PhoneError(ValueError):
    """A number that cannot receive texts; the message is shown at the field."""


def normalize_mobile(text: str, region: str = DEFAULT_REGION) -> str:
    """'(617) 555-0142' -> '+16175550142'. Raises PhoneError with a clear message."""
    raw = text.strip()
    if not raw:
        raise PhoneError("Enter a mobile number.")
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise PhoneError("Enter a valid mobile number, like (617) 555-0142.") from None
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneError("This is not a valid phone number. Check the digits.")
    kind = phonenumbers.number_type(parsed)
    if kind in (
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.PAGER,
        phonenumbers.PhoneNumberType.VOIP,
    ):
        # FIXED_LINE_OR_MOBILE (all US numbers) is fine; a known landline is not.
        raise PhoneError("This looks like a landline. Enter a mobile number that can get texts.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    """'+16175550142' -> '(617) 555-0142' (national format for US, international otherwise)."""
    if not e164:
        return ""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if parsed.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, fmt)


def masked_phone(e164: str) -> str:
    """For logs and toasts: '+1•••••••0142'. Patient numbers never go to logs whole."""
    return f"{e164[:2]}•••••••{e164[-4:]}" if len(e164) > 6 else "•••"
