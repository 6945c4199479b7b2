"""Stripe webhooks and Twilio callbacks over HTTP, as the app's API server receives them.

Payloads are signed here exactly as Stripe (`t=…,v1=HMAC-SHA256`) and Twilio
(`X-Twilio-Signature`) sign them, plus the stand-in's own deliveries of real events.
"""

from __future__ import annotations

import collections
import json
import threading
import time

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from jotpay_app.models import ProcessedWebhook, SmsMessage, utcnow
from jotpay_app.services import lifecycle, paylink
from jotpay_app.services.errors import FieldErrors
from jotpay_app.services.requests import send_payment_request
from tests.integration.conftest import OUR_NUMBER, AppEnv
from tests.payment_world import (
    World,
    checkout_completed,
    event_kinds,
    patient_row,
    poll,
    post_stripe_event,
    post_twilio,
    processed_count,
    request_row,
    sms_rows,
    stripe_account_row,
    stripe_event,
    stripe_signature,
    wait_for_lock_waiters,
)
from tests.sandbox_stripe_helpers import GOOD_CARD, pay

pytestmark = pytest.mark.timeout(60)


def send(env: AppEnv, world: World):
    return send_payment_request(
        world.engine,
        world.who,
        patient_id=world.patient_id,
        form=world.form(),
        sms=env.sms,
        public_base_url=env.api,
        max_cents=env.settings.max_request_cents,
    )


def platform_url(env: AppEnv) -> str:
    return f"{env.api}/api/stripe/webhook"


def connect_url(env: AppEnv) -> str:
    return f"{env.api}/api/stripe/connect-webhook"


def stripe_rows(world: World) -> int:
    with Session(world.engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(ProcessedWebhook)
                .where(ProcessedWebhook.source == "stripe")
            ).one()
        )


# -- 9. Stripe ----------------------------------------------------------------------------------
def test_badly_signed_stripe_events_are_refused_and_change_nothing(
    app_env: AppEnv, world: World
) -> None:
    outcome = send(app_env, world)
    event = checkout_completed(outcome.request_id)
    secret = app_env.settings.stripe_webhook_secret
    payload = json.dumps(event)
    good = stripe_signature(payload, secret)
    forged = good[: good.index("v1=") + 3] + "0" * 64
    rows_before = stripe_rows(world)
    attempts = {
        "forged": post_stripe_event(
            app_env.http, platform_url(app_env), event, secret, signature=forged
        ),
        "missing": post_stripe_event(
            app_env.http, platform_url(app_env), event, secret, signature=""
        ),
        "wrong secret": post_stripe_event(
            app_env.http, platform_url(app_env), event, "whsec_not_ours"
        ),
        "stale": post_stripe_event(
            app_env.http, platform_url(app_env), event, secret, timestamp=int(time.time()) - 301
        ),
        "other endpoint's secret": post_stripe_event(
            app_env.http, connect_url(app_env), event, secret
        ),
    }
    # A valid signature over a different body (the amount changed in transit).
    tampered = app_env.http.post(
        platform_url(app_env),
        content=payload.replace('"amount_total": 5000', '"amount_total": 1').encode(),
        headers={"Stripe-Signature": good, "Content-Type": "application/json"},
    )
    attempts["tampered body"] = tampered
    assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(attempts, 400)
    request = request_row(world.engine, outcome.request_id)
    assert (request.status, request.paid_at) == ("sent", None)
    assert stripe_rows(world) == rows_before
    assert "paid" not in event_kinds(world.engine, outcome.request_id)


def test_valid_checkout_completed_pays_once_however_often_it_is_replayed(
    app_env: AppEnv, engine: Engine
) -> None:
    world = app_env.world(engine)
    outcome = send(app_env, world)
    event = checkout_completed(outcome.request_id)
    secret = app_env.settings.stripe_webhook_secret

    first = post_stripe_event(app_env.http, platform_url(app_env), event, secret)
    assert first.status_code == 200
    assert first.json()["outcome"] == "paid"
    request = request_row(world.engine, outcome.request_id)
    assert request.status == "paid"
    assert request.paid_at is not None
    assert request.payment_intent_id == event["data"]["object"]["payment_intent"]

    # Ten replays one after the other, then ten at the same moment.
    replays = [
        post_stripe_event(app_env.http, platform_url(app_env), event, secret) for _ in range(10)
    ]
    assert {r.status_code for r in replays} == {200}
    answers: list[int] = []
    start = threading.Barrier(10)

    def replay() -> None:
        start.wait()
        answers.append(
            post_stripe_event(app_env.http, platform_url(app_env), event, secret).status_code
        )

    threads = [threading.Thread(target=replay) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert answers == [200] * 10
    assert event_kinds(world.engine, outcome.request_id).count("paid") == 1
    assert processed_count(world.engine, "stripe", event["id"]) == 1


def test_the_same_payment_as_a_new_event_id_does_not_pay_twice(
    app_env: AppEnv, world: World
) -> None:
    outcome = send(app_env, world)
    secret = app_env.settings.stripe_webhook_secret
    completed = checkout_completed(outcome.request_id)
    succeeded = stripe_event(
        "payment_intent.succeeded",
        {
            "id": completed["data"]["object"]["payment_intent"],
            "object": "payment_intent",
            "amount": 5000,
            "amount_received": 5000,
            "status": "succeeded",
            "metadata": {"jotpay_request_id": str(outcome.request_id)},
        },
    )
    for event in (succeeded, completed):
        assert post_stripe_event(app_env.http, platform_url(app_env), event, secret).is_success
    assert event_kinds(world.engine, outcome.request_id).count("paid") == 1
    assert request_row(world.engine, outcome.request_id).amount_cents == 5000


def test_payment_failed_arriving_after_paid_keeps_the_request_paid(
    app_env: AppEnv, world: World
) -> None:
    outcome = send(app_env, world)
    secret = app_env.settings.stripe_webhook_secret
    completed = checkout_completed(outcome.request_id)
    failed = stripe_event(
        "payment_intent.payment_failed",
        {
            "id": completed["data"]["object"]["payment_intent"],
            "object": "payment_intent",
            "status": "requires_payment_method",
            "last_payment_error": {"message": "Your card was declined.", "code": "card_declined"},
            "metadata": {"jotpay_request_id": str(outcome.request_id)},
        },
        created=completed["created"] - 5,  # it happened first, it arrives last
    )
    assert post_stripe_event(app_env.http, platform_url(app_env), completed, secret).is_success
    late = post_stripe_event(app_env.http, platform_url(app_env), failed, secret)
    assert late.status_code == 200
    request = request_row(world.engine, outcome.request_id)
    assert request.status == "paid"
    assert request.failure_reason == ""
    kinds = event_kinds(world.engine, outcome.request_id)
    assert kinds.count("paid") == 1
    assert kinds[-1] == "payment_failed"  # kept in the history, status untouched


def test_account_updated_on_the_connect_endpoint_updates_the_clinicians_account(
    app_env: AppEnv, world: World
) -> None:
    assert stripe_account_row(world).charges_enabled is True
    event = stripe_event(
        "account.updated",
        {
            "id": world.account_id,
            "object": "account",
            "type": "express",
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": True,
            "requirements": {"currently_due": ["external_account"], "past_due": []},
        },
        account=world.account_id,
    )
    # Signed with the platform secret it is refused on the Connect endpoint.
    wrong = post_stripe_event(
        app_env.http, connect_url(app_env), event, app_env.settings.stripe_webhook_secret
    )
    assert wrong.status_code == 400
    assert stripe_account_row(world).charges_enabled is True

    answer = post_stripe_event(
        app_env.http, connect_url(app_env), event, app_env.settings.stripe_connect_webhook_secret
    )
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "account updated"
    account = stripe_account_row(world)
    assert (account.charges_enabled, account.payouts_enabled) == (False, False)
    assert account.requirements_due == "external_account"

    stranger = stripe_event("account.updated", {"id": "acct_not_ours", "charges_enabled": True})
    unknown = post_stripe_event(
        app_env.http, connect_url(app_env), stranger, app_env.settings.stripe_connect_webhook_secret
    )
    assert unknown.json()["outcome"] == "unknown account"


def test_stand_in_delivering_every_event_twice_still_pays_once(
    app_env: AppEnv, world: World
) -> None:
    outcome = send(app_env, world)
    token = request_row(world.engine, outcome.request_id).pay_token
    app_env.sandbox.stripe_fault(webhooks="duplicate")
    checkout_url = app_env.http.get(f"{app_env.api}/pay/{token}").headers["location"]
    # Pay, but never open the thank-you page: only the webhooks can record it.
    assert pay(checkout_url, GOOD_CARD).status_code == 303
    poll(lambda: request_row(world.engine, outcome.request_id).status == "paid", what="paid")
    app_env.sandbox.wait_webhooks_idle()

    request = request_row(world.engine, outcome.request_id)
    deliveries = [
        d
        for d in app_env.sandbox.deliveries_of("checkout.session.completed")
        if d["endpoint"] == "platform"
    ]
    by_event = collections.Counter(d["event"] for d in deliveries)
    ours = [e for e, n in by_event.items() if n == 2]
    assert ours, by_event
    assert all(d["outcome"] == "delivered" and d["last_status"] == 200 for d in deliveries)
    event_id = ours[-1]
    assert processed_count(world.engine, "stripe", event_id) == 1
    assert event_kinds(world.engine, outcome.request_id).count("paid") == 1
    assert (request.fee_cents, request.net_cents) == (175, 4825)


def test_thank_you_page_waiting_on_a_webhook_does_not_record_the_payment_again(
    app_env: AppEnv, pg_engine: Engine
) -> None:
    world = app_env.world(pg_engine)
    outcome = send(app_env, world)
    token = request_row(pg_engine, outcome.request_id).pay_token
    checkout_url = app_env.http.get(f"{app_env.api}/pay/{token}").headers["location"]
    session_id = request_row(pg_engine, outcome.request_id).checkout_session_id
    pages: list[str] = []

    def thank_you() -> None:
        url = f"{app_env.api}/pay/{token}/thanks?session_id={session_id}"
        pages.append(app_env.http.get(url).text)

    page = threading.Thread(target=thank_you)
    with Session(pg_engine) as webhook:
        # The webhook holds the row while it records the payment...
        request = lifecycle.lock_request(webhook, outcome.request_id)
        assert request is not None
        page.start()
        wait_for_lock_waiters(pg_engine, 1)  # ...while the thank-you page waits for it.
        assert pay(checkout_url, GOOD_CARD).status_code == 303
        paylink.record_payment(
            webhook, request, amount_cents=5000, payment_intent_id="pi_from_webhook", actor="stripe"
        )
        webhook.commit()
    page.join(timeout=20)
    app_env.sandbox.wait_webhooks_idle()
    assert "payment received" in pages[0].lower()
    assert event_kinds(pg_engine, outcome.request_id).count("paid") == 1


# -- 10. Twilio ---------------------------------------------------------------------------------
def _message(world: World, request_id: int, sid: str) -> None:
    with Session(world.engine) as session:
        session.add(
            SmsMessage(
                practice_id=world.practice_id,
                patient_id=world.patient_id,
                request_id=request_id,
                purpose="request",
                to_e164=world.mobile,
                body="test",
                twilio_sid=sid,
                status="queued",
            )
        )
        session.commit()


def _sms_status(world: World, sid: str) -> str:
    with Session(world.engine) as session:
        row = session.exec(select(SmsMessage).where(SmsMessage.twilio_sid == sid)).one()
        return row.status


def test_twilio_status_callbacks_are_verified_and_only_move_forward(
    app_env: AppEnv, world: World
) -> None:
    from tests.payment_world import add_request

    request = add_request(world)
    sid = "SM" + "ab12" * 8
    _message(world, request.id or 0, sid)
    url = f"{app_env.api}/api/twilio/status"
    token = app_env.settings.twilio_auth_token

    def params(status: str) -> dict[str, str]:
        return {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": app_env.settings.twilio_account_sid,
            "From": OUR_NUMBER,
            "To": world.mobile,
            "ApiVersion": "2010-04-01",
        }

    tampered = post_twilio(
        app_env.http, url, params("sent"), token, tamper={"MessageStatus": "delivered"}
    )
    assert tampered.status_code == 403
    unsigned = app_env.http.post(url, data=params("delivered"))
    assert unsigned.status_code == 403
    wrong_token = post_twilio(app_env.http, url, params("delivered"), "0" * 32)
    assert wrong_token.status_code == 403
    assert _sms_status(world, sid) == "queued"

    assert post_twilio(app_env.http, url, params("delivered"), token).status_code == 204
    assert _sms_status(world, sid) == "delivered"
    # "sent" was sent before "delivered" but arrives after it: the status stays delivered.
    assert post_twilio(app_env.http, url, params("sent"), token).status_code == 204
    assert _sms_status(world, sid) == "delivered"
    kinds = event_kinds(world.engine, request.id or 0)
    assert kinds.count("sms_delivered") == 1


def test_stand_ins_own_status_callbacks_reach_delivered(app_env: AppEnv, world: World) -> None:
    outcome = send(app_env, world)
    assert outcome.status == "sent"
    poll(lambda: sms_rows(world)[0].status == "delivered", what="delivered callback")
    assert "sms_delivered" in event_kinds(world.engine, outcome.request_id)


def test_stop_and_start_from_the_patients_phone_toggle_the_opt_out(app_env: AppEnv, db) -> None:
    mobile = "+16175550173"
    world = app_env.world(db, mobile=mobile)
    assert patient_row(world).sms_opted_out is False

    reply = app_env.sandbox.reply_as_patient(mobile, "Stop")
    assert reply.status_code in (200, 303)
    poll(lambda: patient_row(world).sms_opted_out, what="STOP applied")
    assert patient_row(world).sms_opted_out_at is not None
    with pytest.raises(FieldErrors):
        send(app_env, world)

    app_env.sandbox.reply_as_patient(mobile, "START")
    poll(lambda: not patient_row(world).sms_opted_out, what="START applied")
    assert patient_row(world).sms_opted_out_at is None
    assert send(app_env, world).status == "sent"


def test_forged_inbound_stop_is_refused(app_env: AppEnv, world: World) -> None:
    url = f"{app_env.api}/api/twilio/inbound"
    params = {
        "MessageSid": "SM" + "cd34" * 8,
        "From": world.mobile,
        "To": OUR_NUMBER,
        "Body": "STOP",
        "AccountSid": app_env.settings.twilio_account_sid,
    }
    forged = post_twilio(app_env.http, url, params, "f" * 32)
    assert forged.status_code == 403
    assert patient_row(world).sms_opted_out is False
    signed = post_twilio(app_env.http, url, params, app_env.settings.twilio_auth_token)
    assert signed.status_code == 200
    assert patient_row(world).sms_opted_out is True
    assert patient_row(world).sms_opted_out_at is not None
    assert patient_row(world).sms_opted_out_at <= utcnow()
