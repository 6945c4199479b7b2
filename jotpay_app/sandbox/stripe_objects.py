"""Builders for Stripe objects with the same fields as Stripe's published example objects.

Only the values differ: they describe what happened in the sandbox. Fields the sandbox has no
notion of keep the null/empty value Stripe gives when the feature is unused.
"""

from __future__ import annotations

from typing import Any

# Pinned to the version the installed stripe SDK (16.1.x) sends, `stripe.api_version`.
API_VERSION = "2026-10-28.endive"

ZERO_DECIMAL_CURRENCIES = {"jpy", "krw", "vnd", "clp", "isk", "ugx", "xaf", "xof"}
CURRENCY_SYMBOLS = {"usd": "$", "cad": "CA$", "aud": "A$", "nzd": "NZ$", "eur": "€", "gbp": "£"}
# Stripe's minimum charge amounts, in the smallest unit.
MINIMUM_AMOUNTS = {"usd": 50, "cad": 50, "aud": 50, "nzd": 50, "eur": 50, "gbp": 30, "jpy": 50}
COUNTRY_CURRENCIES = {
    "US": "usd",
    "CA": "cad",
    "GB": "gbp",
    "AU": "aud",
    "NZ": "nzd",
    "IE": "eur",
    "FR": "eur",
    "DE": "eur",
    "NL": "eur",
    "ES": "eur",
    "IT": "eur",
}

# What Stripe asks of a new US Express individual before it can take payments.
ONBOARDING_REQUIREMENTS = [
    "business_profile.mcc",
    "business_profile.url",
    "business_type",
    "external_account",
    "individual.address.city",
    "individual.address.line1",
    "individual.address.postal_code",
    "individual.address.state",
    "individual.dob.day",
    "individual.dob.month",
    "individual.dob.year",
    "individual.email",
    "individual.first_name",
    "individual.last_name",
    "individual.phone",
    "individual.ssn_last_4",
    "individual.verification.document",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]


def format_amount(amount: int, currency: str) -> str:
    """`5000, "usd"` -> `$50.00`, as Checkout shows it."""
    currency = currency.lower()
    symbol = CURRENCY_SYMBOLS.get(currency, currency.upper() + " ")
    if currency in ZERO_DECIMAL_CURRENCIES:
        return f"{symbol}{amount:,}"
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount) / 100:,.2f}"


def empty_list(url: str) -> dict[str, Any]:
    return {"object": "list", "data": [], "has_more": False, "url": url}


def _address(postal_code: str | None = None, country: str | None = None) -> dict[str, Any]:
    return {
        "city": None,
        "country": country,
        "line1": None,
        "line2": None,
        "postal_code": postal_code,
        "state": None,
    }


def _requirements(currently_due: list[str]) -> dict[str, Any]:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": list(currently_due),
        "disabled_reason": "requirements.past_due" if currently_due else None,
        "errors": [],
        "eventually_due": list(currently_due),
        "past_due": list(currently_due),
        "pending_verification": [],
    }


def account(
    *,
    account_id: str,
    created: int,
    email: str | None,
    country: str,
    metadata: dict[str, str],
    requested_capabilities: list[str],
    business_type: str | None,
    business_name: str | None,
) -> dict[str, Any]:
    return {
        "id": account_id,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": None,
            "minority_owned_business_designation": None,
            "name": business_name,
            "product_description": None,
            "support_address": None,
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": business_type,
        "capabilities": {name: "inactive" for name in requested_capabilities},
        "charges_enabled": False,
        "controller": {
            "fees": {"payer": "application"},
            "is_controller": True,
            "losses": {"payments": "application"},
            "requirement_collection": "stripe",
            "stripe_dashboard": {"type": "express"},
            "type": "application",
        },
        "country": country,
        "created": created,
        "default_currency": COUNTRY_CURRENCIES[country],
        "details_submitted": False,
        "email": email,
        "external_accounts": empty_list(f"/v1/accounts/{account_id}/external_accounts"),
        "future_requirements": _requirements([]),
        "metadata": metadata,
        "payouts_enabled": False,
        "requirements": _requirements(ONBOARDING_REQUIREMENTS),
        "settings": {
            "bacs_debit_payments": {"display_name": None, "service_user_number": None},
            "branding": {
                "icon": None,
                "logo": None,
                "primary_color": None,
                "secondary_color": None,
            },
            "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
            "card_payments": {
                "decline_on": {"avs_failure": False, "cvc_failure": False},
                "statement_descriptor_prefix": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "dashboard": {"display_name": business_name, "timezone": "Etc/UTC"},
            "invoices": {"default_account_tax_ids": None, "hosted_payment_method_save": None},
            "payments": {
                "statement_descriptor": None,
                "statement_descriptor_kana": None,
                "statement_descriptor_kanji": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 2, "interval": "daily"},
                "statement_descriptor": None,
            },
            "sepa_debit_payments": {},
        },
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "type": "express",
    }


def onboarded_account_changes(
    acct: dict[str, Any],
    *,
    now: int,
    ip: str,
    user_agent: str | None,
    bank_account: dict[str, Any],
    business_url: str | None,
) -> dict[str, Any]:
    """The top-level fields that change once an Express account finishes onboarding."""
    external_accounts = empty_list(f"/v1/accounts/{acct['id']}/external_accounts")
    external_accounts["data"] = [bank_account]
    business_profile = dict(acct["business_profile"])
    business_profile["mcc"] = business_profile["mcc"] or "8011"  # doctors
    business_profile["url"] = business_profile["url"] or business_url
    return {
        "business_profile": business_profile,
        "business_type": acct["business_type"] or "individual",
        "capabilities": dict.fromkeys(acct["capabilities"] or {"transfers": ""}, "active"),
        "charges_enabled": True,
        "details_submitted": True,
        "external_accounts": external_accounts,
        "payouts_enabled": True,
        "requirements": _requirements([]),
        "tos_acceptance": {"date": now, "ip": ip, "user_agent": user_agent},
    }


def bank_account(
    *, bank_id: str, account_id: str, country: str, routing_number: str, account_number: str
) -> dict[str, Any]:
    return {
        "id": bank_id,
        "object": "bank_account",
        "account": account_id,
        "account_holder_name": None,
        "account_holder_type": None,
        "account_type": None,
        "available_payout_methods": ["standard"],
        "bank_name": "STRIPE TEST BANK",
        "country": country,
        "currency": COUNTRY_CURRENCIES[country],
        "default_for_currency": True,
        "fingerprint": None,
        "future_requirements": {"currently_due": [], "errors": [], "past_due": []},
        "last4": account_number[-4:],
        "metadata": {},
        "requirements": {"currently_due": [], "errors": [], "past_due": []},
        "routing_number": routing_number,
        "status": "new",
    }


def account_link(*, created: int, expires_at: int, url: str) -> dict[str, Any]:
    return {"object": "account_link", "created": created, "expires_at": expires_at, "url": url}


def login_link(*, created: int, url: str) -> dict[str, Any]:
    return {"object": "login_link", "created": created, "url": url}


def checkout_session(
    *,
    session_id: str,
    created: int,
    expires_at: int,
    url: str,
    amount_total: int,
    currency: str,
    success_url: str | None,
    cancel_url: str | None,
    customer_email: str | None,
    client_reference_id: str | None,
    metadata: dict[str, str],
    locale: str | None,
    submit_type: str | None,
) -> dict[str, Any]:
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": cancel_url,
        "client_reference_id": client_reference_id,
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_account": None,
        "customer_creation": "if_required",
        "customer_details": None,
        "customer_email": customer_email,
        "discounts": [],
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        "livemode": False,
        "locale": locale,
        "managed_payments": {"enabled": False},
        "metadata": metadata,
        "mode": "payment",
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": submit_type,
        "subscription": None,
        "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": url,
        "wallet_options": None,
    }


def customer_details(*, email: str, name: str, postal_code: str, country: str) -> dict[str, Any]:
    return {
        "address": _address(postal_code, country),
        "business_name": None,
        "email": email,
        "individual_name": None,
        "name": name,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def line_item(
    *, item_id: str, name: str, unit_amount: int, quantity: int, currency: str
) -> dict[str, Any]:
    total = unit_amount * quantity
    return {
        "id": item_id,
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": total,
        "amount_tax": 0,
        "amount_total": total,
        "currency": currency,
        "description": name,
        "price": {
            "id": item_id.replace("li_", "price_", 1),
            "object": "price",
            "active": False,
            "billing_scheme": "per_unit",
            "currency": currency,
            "product": item_id.replace("li_", "prod_", 1),
            "type": "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        },
        "quantity": quantity,
    }


def payment_intent(
    *,
    intent_id: str,
    client_secret: str,
    created: int,
    amount: int,
    currency: str,
    metadata: dict[str, str],
    description: str | None,
    application_fee_amount: int | None,
    destination: str | None,
    receipt_email: str | None,
    statement_descriptor_suffix: str | None,
) -> dict[str, Any]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": application_fee_amount,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": client_secret,
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": None,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": statement_descriptor_suffix,
        "status": "requires_payment_method",
        "transfer_data": {"destination": destination} if destination else None,
        "transfer_group": None,
    }


def card_details(card: dict[str, Any]) -> dict[str, Any]:
    """`payment_method_details` of a charge made with a sandbox test card."""
    return {
        "card": {
            "amount_authorized": None,
            "authorization_code": None,
            "brand": card["brand"],
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": "pass" if card.get("postal_code") else None,
                "cvc_check": "pass",
            },
            "country": "US",
            "exp_month": card["exp_month"],
            "exp_year": card["exp_year"],
            "extended_authorization": {"status": "disabled"},
            "fingerprint": card["fingerprint"],
            "funding": card["funding"],
            "incremental_authorization": {"status": "unavailable"},
            "installments": None,
            "last4": card["last4"],
            "mandate": None,
            "multicapture": {"status": "unavailable"},
            "network": card["brand"],
            "network_token": {"used": False},
            "network_transaction_id": None,
            "overcapture": {"maximum_amount_capturable": 0, "status": "unavailable"},
            "regulated_status": "unregulated",
            "three_d_secure": None,
            "transaction_link_id": None,
            "wallet": None,
        },
        "type": "card",
    }


def charge(
    *,
    charge_id: str,
    created: int,
    amount: int,
    currency: str,
    paid: bool,
    payment_intent_id: str | None,
    payment_method_id: str | None,
    card: dict[str, Any] | None,
    billing_name: str | None,
    billing_email: str | None,
    billing_postal_code: str | None,
    metadata: dict[str, str],
    description: str | None,
    application_fee_amount: int | None,
    destination: str | None,
    outcome: dict[str, Any],
    failure_code: str | None,
    failure_message: str | None,
    receipt_url: str | None,
    receipt_email: str | None,
) -> dict[str, Any]:
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if paid else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": application_fee_amount,
        "balance_transaction": None,
        "billing_details": {
            "address": _address(billing_postal_code),
            "email": billing_email,
            "name": billing_name,
            "phone": None,
            "tax_id": None,
        },
        "calculated_statement_descriptor": "JOTPAY SANDBOX",
        "captured": paid,
        "created": created,
        "currency": currency,
        "customer": None,
        "description": description,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": failure_code,
        "failure_message": failure_message,
        "fraud_details": {},
        "livemode": False,
        "metadata": metadata,
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": paid,
        "payment_intent": payment_intent_id,
        "payment_method": payment_method_id,
        "payment_method_details": card_details(card) if card else None,
        "receipt_email": receipt_email,
        "receipt_number": None,
        "receipt_url": receipt_url,
        "refunded": False,
        "refunds": empty_list(f"/v1/charges/{charge_id}/refunds"),
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded" if paid else "failed",
        "transfer": None,
        "transfer_data": {"amount": None, "destination": destination} if destination else None,
        "transfer_group": None,
    }


def destination_payment(
    *, payment_id: str, created: int, amount: int, currency: str, transfer_id: str
) -> dict[str, Any]:
    """The charge-like `py_` object a destination charge creates on the connected account."""
    payment = charge(
        charge_id=payment_id,
        created=created,
        amount=amount,
        currency=currency,
        paid=True,
        payment_intent_id=None,
        payment_method_id=None,
        card=None,
        billing_name=None,
        billing_email=None,
        billing_postal_code=None,
        metadata={},
        description=None,
        application_fee_amount=None,
        destination=None,
        outcome={"type": "authorized"},
        failure_code=None,
        failure_message=None,
        receipt_url=None,
        receipt_email=None,
    )
    payment["source_transfer"] = transfer_id
    payment["calculated_statement_descriptor"] = None
    payment["payment_method_details"] = {"stripe_account": {}, "type": "stripe_account"}
    return payment


def approved_outcome() -> dict[str, Any]:
    return {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network",
        "reason": None,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": "Payment complete.",
        "type": "authorized",
    }


def declined_outcome(decline_code: str) -> dict[str, Any]:
    return {
        "advice_code": "try_again_later" if decline_code == "generic_decline" else None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "declined_by_network",
        "reason": decline_code,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }


def balance_transaction(
    *,
    txn_id: str,
    created: int,
    amount: int,
    currency: str,
    fee: int,
    fee_details: list[dict[str, Any]],
    source: str,
    txn_type: str,
    reporting_category: str,
    description: str | None,
) -> dict[str, Any]:
    return {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created,
        "balance_type": "payments",
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": reporting_category,
        "source": source,
        "status": "available",
        "type": txn_type,
    }


def transfer(
    *,
    transfer_id: str,
    created: int,
    amount: int,
    currency: str,
    destination: str,
    destination_payment_id: str,
    source_transaction: str,
) -> dict[str, Any]:
    return {
        "id": transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": None,
        "created": created,
        "currency": currency,
        "description": None,
        "destination": destination,
        "destination_payment": destination_payment_id,
        "livemode": False,
        "metadata": {},
        "reversals": empty_list(f"/v1/transfers/{transfer_id}/reversals"),
        "reversed": False,
        "source_transaction": source_transaction,
        "source_type": "card",
        "transfer_group": None,
    }


def transfer_reversal(
    *, reversal_id: str, created: int, amount: int, currency: str, transfer_id: str
) -> dict[str, Any]:
    return {
        "id": reversal_id,
        "object": "transfer_reversal",
        "amount": amount,
        "balance_transaction": None,
        "created": created,
        "currency": currency,
        "destination_payment_refund": None,
        "metadata": {},
        "source_refund": None,
        "transfer": transfer_id,
    }


def application_fee(
    *,
    fee_id: str,
    created: int,
    amount: int,
    currency: str,
    account_id: str,
    charge_id: str,
    originating_transaction: str | None,
) -> dict[str, Any]:
    return {
        "id": fee_id,
        "object": "application_fee",
        "account": account_id,
        "amount": amount,
        "amount_refunded": 0,
        "application": "ca_sandbox",
        "balance_transaction": None,
        "charge": charge_id,
        "created": created,
        "currency": currency,
        "fee_source": {"charge": charge_id, "type": "charge"},
        "livemode": False,
        "originating_transaction": originating_transaction,
        "refunded": False,
        "refunds": empty_list(f"/v1/application_fees/{fee_id}/refunds"),
    }


def fee_refund(
    *, refund_id: str, created: int, amount: int, currency: str, fee_id: str
) -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "fee_refund",
        "amount": amount,
        "balance_transaction": None,
        "created": created,
        "currency": currency,
        "fee": fee_id,
        "metadata": {},
    }


def refund(
    *,
    refund_id: str,
    created: int,
    amount: int,
    currency: str,
    charge_id: str,
    payment_intent_id: str | None,
    metadata: dict[str, str],
    reason: str | None,
) -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": charge_id,
        "created": created,
        "currency": currency,
        "customer": None,
        "customer_account": None,
        "destination_details": {"card": {"reference_status": "pending", "type": "refund"}},
        "metadata": metadata,
        "payment_intent": payment_intent_id,
        "payment_method": None,
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def event(
    *,
    event_id: str,
    created: int,
    event_type: str,
    data_object: dict[str, Any],
    previous_attributes: dict[str, Any] | None,
    account_id: str | None,
    request_id: str | None,
    idempotency_key: str | None,
    pending_webhooks: int,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": data_object}
    if previous_attributes:
        data["previous_attributes"] = previous_attributes
    body: dict[str, Any] = {
        "id": event_id,
        "object": "event",
    }
    if account_id:
        body["account"] = account_id
    body.update(
        {
            "api_version": API_VERSION,
            "created": created,
            "data": data,
            "livemode": False,
            "pending_webhooks": pending_webhooks,
            "request": {"id": request_id, "idempotency_key": idempotency_key},
            "type": event_type,
        }
    )
    return body


def balance(available: dict[str, int]) -> dict[str, Any]:
    amounts = available or {"usd": 0}
    return {
        "object": "balance",
        "available": [
            {"amount": amount, "currency": currency, "source_types": {"card": amount}}
            for currency, amount in amounts.items()
        ],
        "connect_reserved": [{"amount": 0, "currency": currency} for currency in amounts],
        "livemode": False,
        "pending": [
            {"amount": 0, "currency": currency, "source_types": {"card": 0}} for currency in amounts
        ],
    }
