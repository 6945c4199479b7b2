"""Stripe Connect through the official SDK. The app knows only a base URL and keys:
the same code talks to real Stripe or to the local stand-in.

Every call that creates something carries an idempotency key derived from what it is
for (see `idempotency_key`), so a retried call never creates twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import stripe

from jotpay_app.settings import Settings

# The API version this code was written and tested against.
STRIPE_API_VERSION = "2026-10-28.endive"


def idempotency_key(kind: str, row_id: int, created_at: dt.datetime, *parts: object) -> str:
    """'checkout-12-1733330000123-attempt-2': the row's id *and* creation time, so keys stay
    unique even when ids are reused (a database restored or reseeded against the same
    Stripe account), and equal for every retry of the same intent."""
    stamp = int(created_at.timestamp() * 1000)
    return "-".join([kind, str(row_id), str(stamp), *(str(p) for p in parts)])


class StripeGatewayError(Exception):
    """A Stripe call failed. `transient` errors (timeouts, 5xx) are worth retrying."""

    def __init__(self, message: str, *, transient: bool, code: str = "") -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code


@dataclass(frozen=True)
class AccountState:
    account_id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements_due: tuple[str, ...]


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str
    status: str  # open | complete | expired
    payment_status: str  # unpaid | paid
    expires_at: dt.datetime
    payment_intent_id: str
    amount_total: int
    metadata: dict[str, str]


@dataclass(frozen=True)
class RefundResult:
    id: str
    amount: int
    status: str


def _plain(obj: Any) -> Any:
    """SDK objects as plain dicts (webhook payloads already are)."""
    return obj.to_dict() if hasattr(obj, "to_dict") else obj


def _field(obj: Any, name: str, default: Any = None) -> Any:
    try:
        value = obj[name]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def account_state_from(obj: Any) -> AccountState:
    requirements = _field(obj, "requirements", {}) or {}
    due = list(_field(requirements, "currently_due", []) or []) + list(
        _field(requirements, "past_due", []) or []
    )
    return AccountState(
        account_id=str(_field(obj, "id", "")),
        charges_enabled=bool(_field(obj, "charges_enabled", False)),
        payouts_enabled=bool(_field(obj, "payouts_enabled", False)),
        details_submitted=bool(_field(obj, "details_submitted", False)),
        requirements_due=tuple(dict.fromkeys(str(x) for x in due)),
    )


def checkout_session_from(obj: Any) -> CheckoutSession:
    intent = _field(obj, "payment_intent", "")
    if not isinstance(intent, str):
        intent = str(_field(intent, "id", ""))
    return CheckoutSession(
        id=str(_field(obj, "id", "")),
        url=str(_field(obj, "url", "")),
        status=str(_field(obj, "status", "")),
        payment_status=str(_field(obj, "payment_status", "")),
        expires_at=dt.datetime.fromtimestamp(int(_field(obj, "expires_at", 0)), dt.UTC),
        payment_intent_id=intent,
        amount_total=int(_field(obj, "amount_total", 0)),
        metadata={
            str(k): str(v) for k, v in dict(_plain(_field(obj, "metadata", {})) or {}).items()
        },
    )


class StripeGateway:
    """The few Stripe operations JotPay needs, with errors mapped to StripeGatewayError."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout: float = 20.0) -> StripeGateway:
        base = settings.stripe_api_base
        client = stripe.StripeClient(
            settings.stripe_secret_key or "sk_test_missing",
            base_addresses={"api": base, "connect": base},
            stripe_version=STRIPE_API_VERSION,
            # Retries are ours (scheduler, Retry button), always with the same idempotency key.
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout),
        )
        return cls(client)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise StripeGatewayError(
                "Stripe did not answer. Try again in a moment.", transient=True
            ) from exc
        except stripe.APIError as exc:
            raise StripeGatewayError(
                "Stripe had a problem. Try again in a moment.", transient=True
            ) from exc
        except stripe.StripeError as exc:
            code = str(getattr(exc, "code", "") or "")
            message = getattr(exc, "user_message", None) or str(exc)
            raise StripeGatewayError(message, transient=False, code=code) from exc

    # --- Connect ----------------------------------------------------------------------
    def create_express_account(self, *, clinician_id: int, email: str, key: str) -> AccountState:
        account = self._call(
            self._client.v1.accounts.create,
            {
                "type": "express",
                "country": "US",
                "email": email,
                "capabilities": {
                    "card_payments": {"requested": True},
                    "transfers": {"requested": True},
                },
                "metadata": {"jotpay_clinician_id": str(clinician_id)},
            },
            {"idempotency_key": key},
        )
        return account_state_from(account)

    def retrieve_account(self, account_id: str) -> AccountState:
        return account_state_from(self._call(self._client.v1.accounts.retrieve, account_id))

    def create_onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        link = self._call(
            self._client.v1.account_links.create,
            {
                "account": account_id,
                "type": "account_onboarding",
                "refresh_url": refresh_url,
                "return_url": return_url,
            },
        )
        return str(link["url"])

    def create_login_link(self, account_id: str) -> str:
        link = self._call(self._client.v1.accounts.login_links.create, account_id)
        return str(link["url"])

    # --- Checkout ---------------------------------------------------------------------
    def create_checkout_session(
        self,
        *,
        request_id: int,
        key: str,
        amount_cents: int,
        application_fee_cents: int,
        destination_account: str,
        product_name: str,
        success_url: str,
        cancel_url: str,
        expires_at: dt.datetime,
        metadata: dict[str, str],
    ) -> CheckoutSession:
        session = self._call(
            self._client.v1.checkout.sessions.create,
            {
                "mode": "payment",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": amount_cents,
                            "product_data": {"name": product_name},
                        },
                    }
                ],
                "payment_intent_data": {
                    "application_fee_amount": application_fee_cents,
                    "transfer_data": {"destination": destination_account},
                    "metadata": metadata,
                },
                "metadata": metadata,
                "client_reference_id": f"request-{request_id}",
                "success_url": success_url,
                "cancel_url": cancel_url,
                "expires_at": int(expires_at.timestamp()),
            },
            {"idempotency_key": key},
        )
        return checkout_session_from(session)

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        return checkout_session_from(
            self._call(self._client.v1.checkout.sessions.retrieve, session_id)
        )

    def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        return checkout_session_from(
            self._call(self._client.v1.checkout.sessions.expire, session_id)
        )

    # --- Payments used by the demo seed and refunds --------------------------------------
    def create_confirmed_payment(
        self,
        *,
        key: str,
        amount_cents: int,
        application_fee_cents: int,
        destination_account: str,
        payment_method: str,
        metadata: dict[str, str],
    ) -> dict[str, Any]:
        """A card payment made directly (no Checkout), as Stripe's test mode allows."""
        try:
            intent = self._client.v1.payment_intents.create(
                {
                    "amount": amount_cents,
                    "currency": "usd",
                    "confirm": True,
                    "payment_method": payment_method,
                    "payment_method_types": ["card"],
                    "application_fee_amount": application_fee_cents,
                    "transfer_data": {"destination": destination_account},
                    "metadata": metadata,
                },
                {"idempotency_key": key},
            )
        except stripe.CardError as exc:
            error = getattr(exc, "error", None)
            return {
                "status": "requires_payment_method",
                "id": str(_field(_field(error, "payment_intent", {}), "id", "")),
                "error": getattr(exc, "user_message", None) or str(exc),
            }
        return {"status": str(intent["status"]), "id": str(intent["id"]), "error": ""}

    def create_refund(
        self, *, payment_intent_id: str, amount_cents: int, key: str, metadata: dict[str, str]
    ) -> RefundResult:
        refund = self._call(
            self._client.v1.refunds.create,
            {
                "payment_intent": payment_intent_id,
                "amount": amount_cents,
                # The transfer to the clinician is reversed; the processing fee is kept.
                "reverse_transfer": True,
                "refund_application_fee": False,
                "metadata": metadata,
            },
            {"idempotency_key": key},
        )
        return RefundResult(
            id=str(refund["id"]), amount=int(refund["amount"]), status=str(refund["status"])
        )


def construct_event(payload: bytes, signature: str, secret: str) -> dict[str, Any]:
    """Verify `Stripe-Signature` and parse the event; raises ValueError when it is not valid."""
    if not secret:
        raise ValueError("webhook secret is not configured")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise ValueError(str(exc)) from exc
    return event.to_dict() if hasattr(event, "to_dict") else dict(event)
