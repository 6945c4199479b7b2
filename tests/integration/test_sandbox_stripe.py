"""The Stripe stand-in driven by the official `stripe` SDK, as the app drives it.

Everything runs against the real CLI (`python -m jotpay_app.sandbox`) on 127.0.0.1; webhooks
land on a local threaded HTTP server and are verified with `stripe.Webhook.construct_event`.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from tests.sandbox_stripe_helpers import (
    DECLINED_CARD,
    GOOD_CARD,
    INSUFFICIENT_FUNDS_CARD,
    StripeSandbox,
    WebhookReceiver,
    form_values,
    open_onboarding,
    pay,
    submit_onboarding,
    wait_until,
)

REFERENCE = json.loads(
    (
        Path(__file__).resolve().parent.parent / "fixtures" / "stripe_reference_objects.json"
    ).read_text()
)["resources"]
PLATFORM_PATH = "/stripe/webhook"
CONNECT_PATH = "/stripe/connect-webhook"

pytestmark = pytest.mark.timeout(60)


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver
) -> Iterator[StripeSandbox]:
    data_dir = tmp_path_factory.mktemp("stripe-sandbox") / "data"
    with StripeSandbox(
        data_dir,
        webhook_url=receiver.base_url + PLATFORM_PATH,
        connect_webhook_url=receiver.base_url + CONNECT_PATH,
    ) as running:
        yield running


@pytest.fixture
def client(sandbox: StripeSandbox, receiver: WebhookReceiver) -> Iterator[stripe.StripeClient]:
    sandbox.clear_faults()
    yield sandbox.client()
    sandbox.clear_faults()
    receiver.stop_failing()


def new_account(client: stripe.StripeClient, **extra: Any) -> stripe.Account:
    return client.v1.accounts.create(
        params={
            "type": "express",
            "country": "US",
            "email": f"dr.{secrets.token_hex(3)}@example.com",
            "capabilities": {
                "card_payments": {"requested": True},
                "transfers": {"requested": True},
            },
            "metadata": {"clinician_id": "17"},
            **extra,
        }
    )


def account_link(client: stripe.StripeClient, account_id: str) -> stripe.AccountLink:
    return client.v1.account_links.create(
        params={
            "account": account_id,
            "type": "account_onboarding",
            "refresh_url": "http://app.test/connect/refresh",
            "return_url": "http://app.test/connect/return",
        }
    )


def onboarded_account(client: stripe.StripeClient) -> str:
    account = new_account(client)
    response = submit_onboarding(account_link(client, account.id).url)
    assert response.status_code == 303, response.text
    return account.id


def new_session(
    client: stripe.StripeClient,
    destination: str,
    *,
    amount: int = 5000,
    fee: int = 200,
    **extra: Any,
) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": amount,
                        "product_data": {"name": "Follow-up visit"},
                    },
                    "quantity": 1,
                }
            ],
            "payment_intent_data": {
                "application_fee_amount": fee,
                "transfer_data": {"destination": destination},
                "metadata": {"payment_request_id": "pr_42"},
            },
            "success_url": "http://app.test/paid?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://app.test/cancelled",
            "metadata": {"payment_request_id": "pr_42"},
            "client_reference_id": "pr_42",
            **extra,
        }
    )


def paid_intent(client: stripe.StripeClient, destination: str, amount: int, fee: int) -> str:
    session = new_session(client, destination, amount=amount, fee=fee)
    assert pay(session.url).status_code == 303
    intent_id = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    assert isinstance(intent_id, str)
    return intent_id


def connected_balance(client: stripe.StripeClient, account_id: str) -> int:
    balance = client.v1.balance.retrieve(options={"stripe_account": account_id})
    return sum(entry.amount for entry in balance.available if entry.currency == "usd")


def platform_balance(client: stripe.StripeClient) -> int:
    return sum(e.amount for e in client.v1.balance.retrieve().available if e.currency == "usd")


def verified(hook: Any, secret: str) -> stripe.Event:
    return stripe.Webhook.construct_event(hook.body, hook.signature, secret)


# -- authentication, errors, encoding --------------------------------------------------------------
def test_only_the_configured_secret_key_is_accepted(sandbox: StripeSandbox) -> None:
    wrong = sandbox.client(key="sk_test_" + "x" * 24)
    with pytest.raises(stripe.AuthenticationError) as caught:
        wrong.v1.accounts.list()
    assert caught.value.http_status == 401
    assert "Invalid API Key provided: sk_test_" in str(caught.value.user_message)
    assert "x" * 24 not in str(caught.value.user_message)  # the key is masked

    missing = httpx.get(f"{sandbox.base_url}/v1/accounts")
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"

    assert sandbox.client().v1.accounts.list().object == "list"


def test_unknown_ids_and_urls_are_404_resource_missing(client: stripe.StripeClient) -> None:
    lookups = [
        lambda: client.v1.accounts.retrieve("acct_doesnotexist00"),
        lambda: client.v1.checkout.sessions.retrieve("cs_test_nope"),
        lambda: client.v1.payment_intents.retrieve("pi_nope"),
        lambda: client.v1.charges.retrieve("ch_nope"),
        lambda: client.v1.refunds.retrieve("re_nope"),
        lambda: client.v1.events.retrieve("evt_nope"),
    ]
    for lookup in lookups:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            lookup()
        assert caught.value.http_status == 404
        assert caught.value.code == "resource_missing"
        assert "No such" in str(caught.value.user_message)

    with pytest.raises(stripe.InvalidRequestError) as unknown_url:
        client.raw_request("get", "/v1/not_an_endpoint")
    assert unknown_url.value.http_status == 404
    assert "Unrecognized request URL" in str(unknown_url.value.user_message)


def test_form_encoding_nested_params_arrays_and_unknown_params(
    client: stripe.StripeClient,
) -> None:
    destination = onboarded_account(client)
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 3000,
                        "product_data": {"name": "Visit"},
                    },
                    "quantity": 2,
                },
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 1250,
                        "product_data": {"name": "Lab work"},
                    },
                    "quantity": 1,
                },
            ],
            "payment_intent_data": {"transfer_data": {"destination": destination}},
            "metadata": {"a": "1", "with space": "x y"},
            "success_url": "http://app.test/ok",
        }
    )
    assert session.amount_total == 7250
    assert session.metadata.to_dict() == {"a": "1", "with space": "x y"}
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [(i.description, i.quantity, i.amount_total) for i in items.data] == [
        ("Visit", 2, 6000),
        ("Lab work", 1, 1250),
    ]

    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "usd", "colour": "blue"}  # type: ignore[typeddict-unknown-key]
        )
    assert unknown.value.param == "colour"
    assert unknown.value.code == "parameter_unknown"

    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.create(params={"currency": "usd"})  # type: ignore[typeddict-item]
    assert missing.value.param == "amount"
    assert missing.value.code == "parameter_missing"

    with pytest.raises(stripe.InvalidRequestError) as too_small:
        client.v1.payment_intents.create(params={"amount": 10, "currency": "usd"})
    assert too_small.value.code == "amount_too_small"


def test_api_version_is_pinned_and_echoed(sandbox: StripeSandbox) -> None:
    headers = {"Authorization": f"Bearer {sandbox.secret_key}"}
    default = httpx.get(f"{sandbox.base_url}/v1/accounts", headers=headers)
    assert default.headers["Stripe-Version"] == stripe.api_version
    assert default.headers["Request-Id"].startswith("req_")
    pinned = httpx.get(
        f"{sandbox.base_url}/v1/accounts",
        headers={**headers, "Stripe-Version": "2025-01-27.acacia"},
    )
    assert pinned.headers["Stripe-Version"] == "2025-01-27.acacia"


def test_objects_have_the_fields_of_stripes_published_examples(
    client: stripe.StripeClient,
) -> None:
    account = new_account(client)
    link = account_link(client, account.id)
    assert submit_onboarding(link.url).status_code == 303
    session = new_session(client, account.id)
    assert pay(session.url).status_code == 303
    session = client.v1.checkout.sessions.retrieve(session.id)
    intent = client.v1.payment_intents.retrieve(str(session.payment_intent))
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    refund = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 100})
    event = client.v1.events.list(params={"limit": 1}).data[0]
    login = client.v1.accounts.login_links.create(account.id)
    produced = {
        "account": client.v1.accounts.retrieve(account.id),
        "account_link": link,
        "checkout.session": session,
        "payment_intent": intent,
        "charge": charge,
        "refund": refund,
        "event": event,
        "login_link": login,
        "application_fee": client.v1.application_fees.retrieve(str(charge.application_fee)),
        "transfer": client.v1.transfers.retrieve(str(charge.transfer)),
        "balance": client.v1.balance.retrieve(),
    }
    for kind, stripe_object in produced.items():
        obj = stripe_object.to_dict()
        expected = set(REFERENCE[kind])
        missing = expected - set(obj)
        assert not missing, f"{kind} lacks {sorted(missing)}"
        if "object" in expected:
            assert obj["object"] == REFERENCE[kind]["object"]


# -- Connect: accounts, onboarding, login links ----------------------------------------------------
def test_express_account_onboarding_enables_charges_and_notifies_connect_endpoint(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    account = new_account(client)
    assert account.type == "express"
    assert account.metadata.to_dict() == {"clinician_id": "17"}
    assert not account.charges_enabled and not account.payouts_enabled
    assert not account.details_submitted
    assert "external_account" in account.requirements.currently_due
    assert "individual.verification.document" in account.requirements.currently_due
    assert account.capabilities.to_dict() == {"card_payments": "inactive", "transfers": "inactive"}

    link = account_link(client, account.id)
    assert link.url.startswith(f"{sandbox.base_url}/sandbox/connect/onboard/")
    assert 250 <= link.expires_at - link.created <= 300

    page = open_onboarding(link.url)
    assert page.status_code == 200
    prefilled = form_values(page.text)
    assert prefilled["ssn_last_4"] == "0000"
    assert prefilled["routing_number"] == "110000000"
    assert prefilled["account_number"] == "000123456789"
    assert prefilled["email"] == account.email
    for field_id in ("first_name", "dob", "routing_number", "account_number"):
        assert f'<label for="{field_id}">' in page.text
    assert ">Submit</button>" in page.text

    # Account links are single use: opening it again sends the user to refresh_url.
    again = httpx.get(link.url)
    assert again.status_code == 302
    assert again.headers["location"] == "http://app.test/connect/refresh"

    done = httpx.post(str(page.url), data=prefilled)
    assert done.status_code == 303
    assert done.headers["location"] == "http://app.test/connect/return"

    account = client.v1.accounts.retrieve(account.id)
    assert account.charges_enabled and account.payouts_enabled and account.details_submitted
    assert account.requirements.currently_due == []
    assert account.requirements.disabled_reason is None
    assert account.capabilities.to_dict() == {"card_payments": "active", "transfers": "active"}
    assert account.external_accounts.data[0].last4 == "6789"

    hook = receiver.wait_for(account.id, "account.updated", path=CONNECT_PATH)
    event = verified(hook, sandbox.connect_webhook_secret)
    assert event.account == account.id
    assert event.data.object.charges_enabled is True
    assert event.data.previous_attributes["charges_enabled"] is False
    assert not receiver.for_object(account.id, path=PLATFORM_PATH)

    # The page session is finished: posting again does not re-run onboarding.
    assert httpx.post(str(page.url), data=prefilled).status_code == 302


def test_onboarding_can_be_left_unfinished_and_rejects_bad_bank_details(
    client: stripe.StripeClient,
) -> None:
    account = new_account(client)
    page = open_onboarding(account_link(client, account.id).url)
    assert 'id="saveAndExit" href="http://app.test/connect/return"' in page.text

    values = form_values(page.text) | {"routing_number": "12345"}
    rejected = httpx.post(str(page.url), data=values)
    assert rejected.status_code == 200
    assert "Routing number must have 9 digits." in rejected.text
    assert not client.v1.accounts.retrieve(account.id).charges_enabled

    # "Save and exit" is a plain link back to the app: nothing gets enabled.
    account = client.v1.accounts.retrieve(account.id)
    assert not account.details_submitted
    assert "external_account" in account.requirements.currently_due

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.accounts.login_links.create(account.id)
    assert "has not completed onboarding" in str(caught.value.user_message)


def test_expired_account_link_redirects_to_refresh_url(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    account = new_account(client)
    link = account_link(client, account.id)
    sandbox.advance_clock(301)
    response = httpx.get(link.url)
    assert response.status_code == 302
    assert response.headers["location"] == "http://app.test/connect/refresh"

    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.account_links.create(
            params={"account": account.id, "type": "account_onboarding"}  # type: ignore[typeddict-item]
        )
    assert missing.value.param == "refresh_url"


def test_login_link_opens_express_dashboard_with_payments_fees_and_refunds(
    client: stripe.StripeClient,
) -> None:
    account_id = onboarded_account(client)
    intent_id = paid_intent(client, account_id, amount=12000, fee=500)
    client.v1.refunds.create(
        params={"payment_intent": intent_id, "amount": 2000, "reverse_transfer": True}
    )
    login = client.v1.accounts.login_links.create(account_id)
    assert "/sandbox/connect/dashboard/" in login.url
    dashboard = httpx.get(login.url, follow_redirects=True)
    assert dashboard.status_code == 200
    text = dashboard.text
    assert "$120.00" in text  # gross
    assert "-$5.00" in text  # application fee
    assert "$115.00" in text  # net
    assert "$20.00" in text  # refund
    assert "$95.00" in text  # balance: 115 - 20 reversed
    assert "STRIPE TEST BANK" in text
    # Login links are single use too.
    assert httpx.get(login.url).status_code == 410


# -- Checkout ------------------------------------------------------------------------------------
def test_checkout_session_create_retrieve_and_page(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    destination = onboarded_account(client)
    session = new_session(client, destination, customer_email="pat@example.com")
    assert session.id.startswith("cs_test_")
    assert session.url == f"{sandbox.base_url}/sandbox/checkout/{session.id}"
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert session.amount_total == 5000 and session.currency == "usd"
    assert session.payment_intent is None
    assert session.client_reference_id == "pr_42"
    assert session.customer_email == "pat@example.com"
    assert 24 * 3600 - 5 <= session.expires_at - session.created <= 24 * 3600

    fetched = client.v1.checkout.sessions.retrieve(session.id)
    assert fetched.to_dict() == session.to_dict()

    page = httpx.get(session.url)
    assert page.status_code == 200
    assert 'name="viewport"' in page.text
    assert "Follow-up visit" in page.text
    assert '<button type="submit" id="submitButton">Pay $50.00</button>' in page.text
    for field_id in ("email", "cardNumber", "cardExpiry", "cardCvc", "billingName"):
        assert f'<label for="{field_id}">' in page.text
    assert '<label for="billingPostalCode">ZIP</label>' in page.text
    assert 'href="http://app.test/cancelled"' in page.text


def test_checkout_expires_at_must_be_30_minutes_to_24_hours_ahead(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    destination = onboarded_account(client)
    now = sandbox.now()
    for expires_at, words in ((now + 600, "at least 30 minutes"), (now + 25 * 3600, "24 hours")):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            new_session(client, destination, expires_at=expires_at)
        assert caught.value.param == "expires_at"
        assert words in str(caught.value.user_message)
    ok = new_session(client, destination, expires_at=now + 3600)
    assert ok.expires_at == now + 3600


def test_checkout_session_expire_endpoint_and_expiry_on_access(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    destination = onboarded_account(client)
    session = new_session(client, destination)
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired"
    hook = receiver.wait_for(session.id, "checkout.session.expired", path=PLATFORM_PATH)
    assert verified(hook, sandbox.webhook_secret).data.object.status == "expired"
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.checkout.sessions.expire(session.id)
    assert "can be expired" in str(again.value.user_message)
    page = httpx.get(session.url)
    assert "expired" in page.text
    assert "submitButton" not in page.text

    late = new_session(client, destination, expires_at=sandbox.now() + 31 * 60)
    sandbox.advance_clock(32 * 60)
    assert client.v1.checkout.sessions.retrieve(late.id).status == "expired"
    receiver.wait_for(late.id, "checkout.session.expired", path=PLATFORM_PATH)


def test_checkout_form_shows_field_errors_without_charging(
    client: stripe.StripeClient,
) -> None:
    destination = onboarded_account(client)
    session = new_session(client, destination)
    response = pay(
        session.url,
        "4242 4242 4242 4241",
        email="not-an-email",
        expiry="01 / 20",
        cvc="1",
        name="",
        postal_code="",
    )
    assert response.status_code == 200
    for field_id, message in {
        "email": "Your email is invalid.",
        "cardNumber": "Your card number is invalid.",
        "cardExpiry": "Your card's expiration year is in the past.",
        "cardCvc": "Your card's security code is incomplete.",
        "billingName": "Your name on card is required.",
        "billingPostalCode": "Your ZIP is incomplete.",
    }.items():
        assert f'id="{field_id}-error" role="alert">{message}' in response.text.replace(
            "&#x27;", "'"
        )
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert session.status == "open" and session.payment_intent is None


def test_checkout_declines_then_retry_pays_and_moves_money(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    destination = onboarded_account(client)
    before = connected_balance(client, destination)
    session = new_session(client, destination, amount=5000, fee=200)

    declined = pay(session.url, DECLINED_CARD)
    assert declined.status_code == 200
    assert 'id="paymentError" role="alert">Your card was declined.' in declined.text
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert session.status == "open" and session.payment_status == "unpaid"
    intent = client.v1.payment_intents.retrieve(str(session.payment_intent))
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == "card_declined"
    assert intent.last_payment_error.decline_code == "generic_decline"
    failed = receiver.wait_for(intent.id, "payment_intent.payment_failed", path=PLATFORM_PATH)
    failed_event = verified(failed, sandbox.webhook_secret)
    assert failed_event.data.object.metadata["payment_request_id"] == "pr_42"
    assert failed_event.data.object.last_payment_error.message == "Your card was declined."

    broke = pay(session.url, INSUFFICIENT_FUNDS_CARD)
    assert "Your card has insufficient funds." in broke.text
    intent = client.v1.payment_intents.retrieve(intent.id)
    assert intent.last_payment_error.decline_code == "insufficient_funds"

    paid = pay(session.url, GOOD_CARD)
    assert paid.status_code == 303
    assert paid.headers["location"] == f"http://app.test/paid?session={session.id}"

    session = client.v1.checkout.sessions.retrieve(session.id)
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert session.payment_intent == intent.id
    assert session.customer_details.email == "patient@example.com"
    intent = client.v1.payment_intents.retrieve(intent.id)
    assert intent.status == "succeeded" and intent.amount_received == 5000
    assert intent.last_payment_error is None
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    assert charge.paid and charge.status == "succeeded"
    assert charge.payment_method_details.card.last4 == "4242"
    assert charge.application_fee_amount == 200
    assert charge.transfer_data.destination == destination

    # The connected account receives amount - application fee.
    payment_txn = client.v1.balance_transactions.list(
        params={"type": "payment"}, options={"stripe_account": destination}
    ).data[0]
    assert (payment_txn.amount, payment_txn.fee, payment_txn.net) == (5000, 200, 4800)
    assert connected_balance(client, destination) - before == 4800
    fee = client.v1.application_fees.retrieve(str(charge.application_fee))
    assert fee.amount == 200 and fee.account == destination

    completed = receiver.wait_for(session.id, "checkout.session.completed", path=PLATFORM_PATH)
    completed_event = verified(completed, sandbox.webhook_secret)
    assert completed_event.data.object.payment_status == "paid"
    assert completed_event.api_version == stripe.api_version
    assert "account" not in completed_event  # destination charges are the platform's
    receiver.wait_for(intent.id, "payment_intent.succeeded", path=PLATFORM_PATH)

    done_page = httpx.get(session.url)
    assert "already been made" in done_page.text


# -- PaymentIntents ------------------------------------------------------------------------------
def test_payment_intent_confirm_with_test_payment_methods(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    destination = onboarded_account(client)
    common = {
        "amount": 2500,
        "currency": "usd",
        "confirm": True,
        "application_fee_amount": 100,
        "transfer_data": {"destination": destination},
        "metadata": {"payment_request_id": "pr_7"},
    }
    intent = client.v1.payment_intents.create(
        params={**common, "payment_method": "pm_card_visa"}  # type: ignore[typeddict-item]
    )
    assert intent.status == "succeeded"
    assert intent.latest_charge and intent.latest_charge.startswith("ch_")
    assert client.v1.charges.retrieve(intent.latest_charge).amount == 2500
    receiver.wait_for(intent.id, "payment_intent.succeeded", path=PLATFORM_PATH)

    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.create(
            params={**common, "payment_method": "pm_card_chargeDeclined"}  # type: ignore[typeddict-item]
        )
    error = caught.value
    assert error.http_status == 402
    assert error.code == "card_declined"
    assert error.json_body["error"]["decline_code"] == "generic_decline"
    declined_id = error.json_body["error"]["payment_intent"]["id"]
    declined = client.v1.payment_intents.retrieve(declined_id)
    assert declined.status == "requires_payment_method"
    assert declined.last_payment_error.code == "card_declined"
    assert declined.latest_charge == error.json_body["error"]["charge"]
    failed = receiver.wait_for(declined_id, "payment_intent.payment_failed", path=PLATFORM_PATH)
    assert verified(failed, sandbox.webhook_secret).data.object.metadata.to_dict() == {
        "payment_request_id": "pr_7"
    }

    with pytest.raises(stripe.InvalidRequestError) as no_fee_target:
        client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "usd", "application_fee_amount": 10}
        )
    assert no_fee_target.value.param == "application_fee_amount"


# -- refunds and balances ------------------------------------------------------------------------
def test_refunds_partial_too_much_rest_and_after_full(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    destination = onboarded_account(client)
    intent_id = paid_intent(client, destination, amount=5000, fee=200)

    partial = client.v1.refunds.create(
        params={"payment_intent": intent_id, "amount": 1500, "metadata": {"reason": "overpaid"}}
    )
    assert (partial.amount, partial.status, partial.payment_intent) == (
        1500,
        "succeeded",
        intent_id,
    )
    assert client.v1.refunds.retrieve(partial.id).metadata.to_dict() == {"reason": "overpaid"}
    charge_id = partial.charge
    charge = client.v1.charges.retrieve(charge_id)
    assert (charge.amount_refunded, charge.refunded) == (1500, False)
    hook = receiver.wait_for(charge_id, "charge.refunded", path=PLATFORM_PATH)
    assert verified(hook, sandbox.webhook_secret).data.object.amount_refunded == 1500

    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create(params={"payment_intent": intent_id, "amount": 4000})
    assert too_much.value.param == "amount"
    assert "greater than unrefunded amount on charge ($35.00)" in str(too_much.value.user_message)

    rest = client.v1.refunds.create(params={"charge": charge_id})
    assert rest.amount == 3500
    charge = client.v1.charges.retrieve(charge_id)
    assert (charge.amount_refunded, charge.refunded) == (5000, True)

    with pytest.raises(stripe.InvalidRequestError) as after_full:
        client.v1.refunds.create(params={"payment_intent": intent_id, "amount": 100})
    assert after_full.value.code == "charge_already_refunded"

    listed = client.v1.refunds.list(params={"payment_intent": intent_id})
    assert [r.id for r in listed.data] == [rest.id, partial.id]


def test_reverse_transfer_and_application_fee_retention_show_in_balances(
    client: stripe.StripeClient,
) -> None:
    destination = onboarded_account(client)
    first = paid_intent(client, destination, amount=10000, fee=1000)
    second = paid_intent(client, destination, amount=10000, fee=1000)
    third = paid_intent(client, destination, amount=10000, fee=1000)
    assert connected_balance(client, destination) == 3 * 9000

    # Platform keeps the refund cost: the clinician keeps their 9000.
    platform_before = platform_balance(client)
    client.v1.refunds.create(params={"payment_intent": first})
    assert connected_balance(client, destination) == 3 * 9000
    assert platform_balance(client) == platform_before - 10000

    # Transfer reversed, fee kept by the platform: the clinician ends at -1000 for it.
    platform_before = platform_balance(client)
    client.v1.refunds.create(params={"payment_intent": second, "reverse_transfer": True})
    assert connected_balance(client, destination) == 3 * 9000 - 10000
    assert platform_balance(client) == platform_before  # -10000 refund + 10000 reversal

    # Half refund with both: half the transfer back, half the fee returned.
    client.v1.refunds.create(
        params={
            "payment_intent": third,
            "amount": 5000,
            "reverse_transfer": True,
            "refund_application_fee": True,
        }
    )
    assert connected_balance(client, destination) == 3 * 9000 - 10000 - 5000 + 500
    charge = client.v1.charges.retrieve(
        str(client.v1.payment_intents.retrieve(third).latest_charge)
    )
    fee = client.v1.application_fees.retrieve(str(charge.application_fee))
    assert (fee.amount_refunded, fee.refunded) == (500, False)
    transfer = client.v1.transfers.retrieve(str(charge.transfer))
    assert (transfer.amount_reversed, transfer.reversed) == (5000, False)


# -- idempotency ---------------------------------------------------------------------------------
def test_idempotency_replays_and_rejects_changed_params(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    key = "idem-" + secrets.token_hex(8)
    params = {"type": "express", "email": "same@example.com", "metadata": {"n": "1"}}
    first = client.v1.accounts.create(params=params, options={"idempotency_key": key})  # type: ignore[arg-type]
    again = client.v1.accounts.create(params=params, options={"idempotency_key": key})  # type: ignore[arg-type]
    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len([a for a in client.v1.accounts.list(params={"limit": 100}) if a.id == first.id]) == 1

    with pytest.raises(stripe.IdempotencyError) as mismatch:
        client.v1.accounts.create(
            params={**params, "email": "other@example.com"},  # type: ignore[arg-type]
            options={"idempotency_key": key},
        )
    assert mismatch.value.http_status == 400
    assert key in str(mismatch.value.user_message)

    # Keys are scoped to the Stripe-Account too: the same key there is a new request.
    destination = onboarded_account(client)
    direct = {"amount": 1000, "currency": "usd"}
    on_platform = client.v1.payment_intents.create(
        params=direct, options={"idempotency_key": key + "-pi"}
    )
    on_account = client.v1.payment_intents.create(
        params=direct, options={"idempotency_key": key + "-pi", "stripe_account": destination}
    )
    assert on_platform.id != on_account.id

    # Declines are stored and replayed as declines.
    decline = {"amount": 1000, "currency": "usd", "confirm": True}
    decline_params = {**decline, "payment_method": "pm_card_chargeDeclined"}
    errors = []
    for _ in range(2):
        with pytest.raises(stripe.CardError) as caught:
            client.v1.payment_intents.create(
                params=decline_params,  # type: ignore[arg-type]
                options={"idempotency_key": key + "-decline"},
            )
        errors.append(caught.value)
    assert errors[0].json_body == errors[1].json_body
    assert errors[1].headers.get("Idempotent-Replayed") == "true"


# -- Stripe-Account scoping ----------------------------------------------------------------------
def test_stripe_account_header_scopes_objects(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    account_id = onboarded_account(client)
    as_account = {"stripe_account": account_id}
    direct = client.v1.payment_intents.create(
        params={
            "amount": 3000,
            "currency": "usd",
            "confirm": True,
            "payment_method": "pm_card_visa",
            "application_fee_amount": 300,
        },
        options=as_account,
    )
    assert direct.status == "succeeded"
    assert client.v1.payment_intents.retrieve(direct.id, options=as_account).id == direct.id
    with pytest.raises(stripe.InvalidRequestError) as hidden:
        client.v1.payment_intents.retrieve(direct.id)
    assert hidden.value.http_status == 404
    platform_ids = [pi.id for pi in client.v1.payment_intents.list(params={"limit": 100})]
    assert direct.id not in platform_ids

    # A direct charge's events belong to the account and go to the Connect endpoint.
    hook = receiver.wait_for(direct.id, "payment_intent.succeeded", path=CONNECT_PATH)
    assert verified(hook, sandbox.connect_webhook_secret).account == account_id
    account_events = client.v1.events.list(
        params={"type": "payment_intent.succeeded"}, options=as_account
    )
    assert direct.id in [e.data.object.id for e in account_events.data]

    other = onboarded_account(client)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.retrieve(direct.id, options={"stripe_account": other})
    with pytest.raises(stripe.PermissionError):
        client.v1.payment_intents.list(options={"stripe_account": "acct_notconnected00"})


# -- events and webhooks -------------------------------------------------------------------------
def test_events_list_pages_newest_first_with_type_filter(client: stripe.StripeClient) -> None:
    destination = onboarded_account(client)
    for _ in range(3):
        paid_intent(client, destination, amount=1000, fee=0)

    everything: list[str] = []
    page = client.v1.events.list(params={"limit": 4})
    assert len(page.data) == 4 and page.has_more
    while True:
        everything += [e.id for e in page.data]
        if not page.has_more:
            break
        page = client.v1.events.list(params={"limit": 4, "starting_after": page.data[-1].id})
    assert len(everything) == len(set(everything))
    created = [client.v1.events.retrieve(i).created for i in everything[:6]]
    assert created == sorted(created, reverse=True)

    succeeded = client.v1.events.list(params={"type": "payment_intent.succeeded", "limit": 100})
    assert succeeded.data and all(e.type == "payment_intent.succeeded" for e in succeeded.data)
    assert len(succeeded.data) >= 3
    newest_three = client.v1.events.list(params={"limit": 3})
    assert [e.id for e in newest_three.data] == everything[:3]
    for event in newest_three.data:
        assert event.object == "event" and event.livemode is False
        assert event.id.startswith("evt_")
        assert event.request.idempotency_key is None or isinstance(
            event.request.idempotency_key, str
        )


def test_webhook_signatures_verify_and_tampering_is_detected(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    destination = onboarded_account(client)
    intent = client.v1.payment_intents.create(
        params={
            "amount": 1000,
            "currency": "usd",
            "confirm": True,
            "payment_method": "pm_card_visa",
            "transfer_data": {"destination": destination},
        },
        options={"idempotency_key": "sig-" + secrets.token_hex(4)},
    )
    hook = receiver.wait_for(intent.id, "payment_intent.succeeded", path=PLATFORM_PATH)
    event = verified(hook, sandbox.webhook_secret)
    assert event.data.object.id == intent.id
    assert event.request.id and event.request.id.startswith("req_")
    assert event.request.idempotency_key.startswith("sig-")
    assert hook.signature.startswith("t=") and ",v1=" in hook.signature

    tampered = hook.body.replace('"amount": 1000', '"amount": 1')
    assert tampered != hook.body
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, hook.signature, sandbox.webhook_secret)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(hook.body, hook.signature, "whsec_wrong")
    with pytest.raises(stripe.SignatureVerificationError):
        # The platform secret does not verify Connect deliveries and vice versa.
        stripe.Webhook.construct_event(hook.body, hook.signature, sandbox.connect_webhook_secret)


def test_webhook_is_retried_until_the_endpoint_accepts_it(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    destination = onboarded_account(client)
    session = new_session(client, destination)
    receiver.fail_next(2, containing=session.id)
    client.v1.checkout.sessions.expire(session.id)

    def three_attempts() -> list[Any] | None:
        hooks = receiver.for_object(session.id, path=PLATFORM_PATH)
        return hooks if len(hooks) >= 3 else None

    hooks = wait_until(three_attempts, timeout=10)
    assert len({h.event["id"] for h in hooks}) == 1  # the same event each time
    assert all(h.body == hooks[0].body for h in hooks)
    time.sleep(0.6)  # delivered: no fourth attempt
    assert len(receiver.for_object(session.id, path=PLATFORM_PATH)) == 3
    event = client.v1.events.retrieve(hooks[0].event["id"])
    assert event.pending_webhooks == 0


def test_webhook_faults_delay_duplicate_and_reverse(
    sandbox: StripeSandbox, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    destination = onboarded_account(client)

    sandbox.set_fault(webhooks="duplicate", count=1)
    duplicated = new_session(client, destination)
    client.v1.checkout.sessions.expire(duplicated.id)
    hooks = wait_until(
        lambda: (h := receiver.for_object(duplicated.id)) and len(h) >= 2 and h, timeout=5
    )
    assert hooks[0].event["id"] == hooks[1].event["id"]

    sandbox.set_fault(webhooks="delay", seconds=1.5, count=1)
    delayed = new_session(client, destination)
    client.v1.checkout.sessions.expire(delayed.id)
    time.sleep(0.7)
    assert receiver.for_object(delayed.id) == []
    receiver.wait_for(delayed.id, "checkout.session.expired", timeout=5)

    sandbox.set_fault(webhooks="reverse", count=2)
    session = new_session(client, destination)
    assert pay(session.url).status_code == 303
    intent_id = str(client.v1.checkout.sessions.retrieve(session.id).payment_intent)
    receiver.wait_for(session.id, "checkout.session.completed")
    receiver.wait_for(intent_id, "payment_intent.succeeded")
    order = [
        h.event["type"]
        for h in receiver.received
        if h.event["data"]["object"].get("id") in (session.id, intent_id)
    ]
    # Created as payment_intent.succeeded then checkout.session.completed; sent reversed.
    assert order == ["checkout.session.completed", "payment_intent.succeeded"]


# -- faults --------------------------------------------------------------------------------------
def test_fault_error_answers_500_api_error_then_recovers(
    sandbox: StripeSandbox, client: stripe.StripeClient
) -> None:
    sandbox.set_fault(mode="error", count=2)
    for _ in range(2):
        with pytest.raises(stripe.APIError) as caught:
            client.v1.accounts.list()
        assert caught.value.http_status == 500
        assert caught.value.json_body["error"]["type"] == "api_error"
    assert client.v1.accounts.list().object == "list"


def test_fault_hang_makes_the_sdk_time_out(sandbox: StripeSandbox) -> None:
    sandbox.set_fault(mode="hang", count=1, seconds=2)
    impatient = sandbox.client(timeout=0.5)
    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.accounts.list()
    assert time.monotonic() - started < 1.8
    assert impatient.v1.accounts.list().object == "list"  # the fault was used up

    bad = httpx.post(f"{sandbox.base_url}/sandbox/stripe/faults", json={"mode": "explode"})
    assert bad.status_code == 400


# -- persistence ---------------------------------------------------------------------------------
def test_state_and_pending_webhooks_survive_a_restart(tmp_path: Path) -> None:
    with WebhookReceiver() as receiver:
        sandbox = StripeSandbox(
            tmp_path / "data",
            webhook_url=receiver.base_url + PLATFORM_PATH,
            retry_base_seconds=3,  # keep the failed delivery pending across the restart
        ).start()
        try:
            client = sandbox.client()
            account_id = onboarded_account(client)
            session = new_session(client, account_id)
            receiver.fail_next(1, containing=session.id)
            assert pay(session.url).status_code == 303
            intent_id = str(client.v1.checkout.sessions.retrieve(session.id).payment_intent)
            wait_until(lambda: receiver.for_object(session.id), timeout=5)
            assert receiver.for_object(session.id)[0].event["type"] == "checkout.session.completed"
            pending = [d["event_type"] for d in sandbox.state()["pending_deliveries"]]
            assert "checkout.session.completed" in pending
        finally:
            sandbox.stop()

        sandbox.start()
        try:
            client = sandbox.client()
            assert client.v1.accounts.retrieve(account_id).charges_enabled
            restored = client.v1.checkout.sessions.retrieve(session.id)
            assert (restored.status, restored.payment_intent) == ("complete", intent_id)
            assert client.v1.payment_intents.retrieve(intent_id).status == "succeeded"
            # The delivery that failed before the restart is retried by the new process.
            hooks = wait_until(
                lambda: (h := receiver.for_object(session.id)) and len(h) >= 2 and h, timeout=10
            )
            assert hooks[0].event["id"] == hooks[1].event["id"]
            assert json.loads((tmp_path / "data" / "stripe.json").read_text())["objects"]
        finally:
            sandbox.stop()
