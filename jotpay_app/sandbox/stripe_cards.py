"""Stripe's published test cards, what each one does, and the card-form checks Checkout makes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CardBehaviour:
    brand: str
    funding: str
    # None: the payment succeeds. Otherwise the error Stripe gives for this card.
    error_code: str | None = None
    decline_code: str | None = None
    message: str | None = None


DECLINED = "Your card was declined."

TEST_CARDS: dict[str, CardBehaviour] = {
    "4242424242424242": CardBehaviour("visa", "credit"),
    "4000056655665556": CardBehaviour("visa", "debit"),
    "5555555555554444": CardBehaviour("mastercard", "credit"),
    "378282246310005": CardBehaviour("amex", "credit"),
    "4000000000000002": CardBehaviour(
        "visa", "credit", "card_declined", "generic_decline", DECLINED
    ),
    "4000000000009995": CardBehaviour(
        "visa",
        "credit",
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "4000000000009987": CardBehaviour("visa", "credit", "card_declined", "lost_card", DECLINED),
    "4000000000000069": CardBehaviour(
        "visa", "credit", "expired_card", "expired_card", "Your card has expired."
    ),
    "4000000000000127": CardBehaviour(
        "visa",
        "credit",
        "incorrect_cvc",
        "incorrect_cvc",
        "Your card's security code is incorrect.",
    ),
    "4000000000000119": CardBehaviour(
        "visa",
        "credit",
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
}

# Any other valid number is treated as a real card, which test mode refuses.
LIVE_CARD = CardBehaviour(
    "visa",
    "credit",
    "card_declined",
    "test_mode_live_card",
    "Your card was declined. Your request was in test mode, but used a non test (live) card. "
    "For a list of valid test cards, visit: https://stripe.com/docs/testing.",
)

# PaymentMethod test tokens accepted by the API (`payment_method=pm_card_visa`).
TEST_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
}


@dataclass(frozen=True)
class Card:
    number: str
    exp_month: int
    exp_year: int
    postal_code: str | None = None

    @property
    def behaviour(self) -> CardBehaviour:
        return TEST_CARDS.get(self.number, LIVE_CARD)

    def as_details(self) -> dict[str, object]:
        behaviour = self.behaviour
        return {
            "brand": behaviour.brand,
            "funding": behaviour.funding,
            "last4": self.number[-4:],
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "postal_code": self.postal_code,
            "fingerprint": hashlib.sha256(self.number.encode()).hexdigest()[:16],
        }


def luhn_valid(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


@dataclass
class CardForm:
    """The checkout form as typed; `check` returns a message per bad field (Stripe's wording)."""

    email: str
    card_number: str
    card_expiry: str
    card_cvc: str
    billing_name: str
    billing_postal_code: str

    @property
    def digits(self) -> str:
        return re.sub(r"[\s-]", "", self.card_number)

    def check(self, *, this_year: int, this_month: int) -> dict[str, str]:
        errors: dict[str, str] = {}
        email = self.email.strip()
        if not email:
            errors["email"] = "Your email is incomplete."
        elif not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            errors["email"] = "Your email is invalid."

        digits = self.digits
        if not digits:
            errors["cardNumber"] = "Your card number is incomplete."
        elif not digits.isdigit():
            errors["cardNumber"] = "Your card number is invalid."
        elif len(digits) < (15 if digits.startswith(("34", "37")) else 16):
            errors["cardNumber"] = "Your card number is incomplete."
        elif len(digits) > 19 or not luhn_valid(digits):
            errors["cardNumber"] = "Your card number is invalid."

        expiry = re.fullmatch(r"\s*(\d{1,2})\s*/?\s*(\d{2}|\d{4})\s*", self.card_expiry)
        if not self.card_expiry.strip():
            errors["cardExpiry"] = "Your card's expiration date is incomplete."
        elif not expiry or not 1 <= int(expiry.group(1)) <= 12:
            errors["cardExpiry"] = "Your card's expiration date is invalid."
        else:
            year = int(expiry.group(2))
            year = year + 2000 if year < 100 else year
            if year < this_year:
                errors["cardExpiry"] = "Your card's expiration year is in the past."
            elif (year, int(expiry.group(1))) < (this_year, this_month):
                errors["cardExpiry"] = "Your card's expiration date is in the past."

        cvc = self.card_cvc.strip()
        cvc_length = 4 if digits.startswith(("34", "37")) else 3
        if not cvc or (cvc.isdigit() and len(cvc) < cvc_length):
            errors["cardCvc"] = "Your card's security code is incomplete."
        elif not cvc.isdigit() or len(cvc) > cvc_length:
            errors["cardCvc"] = "Your card's security code is invalid."

        if not self.billing_name.strip():
            errors["billingName"] = "Your name on card is required."

        postal = self.billing_postal_code.strip()
        if not postal:
            errors["billingPostalCode"] = "Your ZIP is incomplete."
        elif not re.fullmatch(r"\d{5}(-\d{4})?", postal):
            errors["billingPostalCode"] = "Your ZIP is invalid."
        return errors

    def card(self) -> Card:
        """Only valid after `check` found nothing."""
        expiry = re.fullmatch(r"\s*(\d{1,2})\s*/?\s*(\d{2}|\d{4})\s*", self.card_expiry)
        assert expiry is not None
        year = int(expiry.group(2))
        return Card(
            number=self.digits,
            exp_month=int(expiry.group(1)),
            exp_year=year + 2000 if year < 100 else year,
            postal_code=self.billing_postal_code.strip(),
        )
