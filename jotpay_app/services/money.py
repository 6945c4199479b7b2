"""Money: integer cents only. Parsing what a clinician types, the fee, formatting."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Stripe Connect processing fee deducted from the clinician's payout: 2.9% + 30c.
FEE_PERCENT_TENTHS = 29  # 2.9% expressed in tenths of a percent (per mille)
FEE_FIXED_CENTS = 30
MIN_REQUEST_CENTS = 50  # Stripe's minimum card charge in USD

_AMOUNT_RE = re.compile(r"^\d{1,9}(\.\d*)?$|^\.\d+$")


class AmountError(ValueError):
    """A typed amount that cannot be requested; the message is shown at the field."""


def fee_cents(amount_cents: int) -> int:
    """round-half-up(2.9% x amount) + 30 cents, in integers (no float ever)."""
    if amount_cents < 0:
        raise ValueError("amount must not be negative")
    return (amount_cents * FEE_PERCENT_TENTHS + 500) // 1000 + FEE_FIXED_CENTS


@dataclass(frozen=True)
class FeeBreakdown:
    gross_cents: int
    fee_cents: int
    net_cents: int


def breakdown(amount_cents: int) -> FeeBreakdown:
    fee = fee_cents(amount_cents)
    return FeeBreakdown(gross_cents=amount_cents, fee_cents=fee, net_cents=amount_cents - fee)


def parse_dollars(text: str, *, max_cents: int, min_cents: int = MIN_REQUEST_CENTS) -> int:
    """'50', '$1,250.5', '0.50' -> cents. Raises AmountError with a message for the field."""
    cleaned = text.strip().replace(",", "").removeprefix("$").strip()
    if not cleaned:
        raise AmountError("Enter an amount.")
    if not _AMOUNT_RE.match(cleaned):
        raise AmountError("Enter an amount in dollars, like 50 or 50.00.")
    whole, _, frac = cleaned.partition(".")
    if len(frac) > 2:
        raise AmountError("Use at most 2 decimals (cents).")
    cents = int(whole or "0") * 100 + int((frac + "00")[:2])
    if cents < min_cents:
        raise AmountError(f"The minimum is {format_cents(min_cents)}.")
    if cents > max_cents:
        raise AmountError(f"The maximum is {format_cents(max_cents)}.")
    return cents


def format_cents(cents: int) -> str:
    """12345 -> '$123.45'; -500 -> '-$5.00'."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def cents_to_input(cents: int) -> str:
    """Cents as a form value: 5000 -> '50.00'."""
    dollars, rest = divmod(cents, 100)
    return f"{dollars}.{rest:02d}"
