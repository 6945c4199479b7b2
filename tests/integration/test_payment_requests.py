"""Requesting a payment end to end: the form, the text, the pay link, Checkout, the receipt.

Everything goes through the real Stripe and Twilio SDKs against the local stand-in, and
through the app's HTTP API served on a local port (see conftest.py).
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from zoneinfo import ZoneInfo

import pytest
import stripe
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jotpay_app.models import Patient, StripeAccount, utcnow
from jotpay_app.services import lifecycle
from jotpay_app.services.errors import FieldErrors
from jotpay_app.services.requests import (
    RequestForm,
    run_sms_retries,
    send_payment_request,
    submit_request,
)
from jotpay_app.services.sms import PERMANENT_ERRORS
from tests.integration.conftest import AppEnv
from tests.payment_world import (
    PATIENT_FIRST,
    PATIENT_LAST,
    PATIENT_MOBILE,
    PRACTICE_NAME,
    PRACTICE_TZ,
    REASON,
    SESSION_TYPE_CODE,
    SESSION_TYPE_LABEL,
    World,
    add_request,
    checkout_completed,
    event_kinds,
    patient_row,
    poll,
    post_stripe_event,
    practice_row,
    request_row,
    requests_of,
    sms_rows,
    wait_for_lock_waiters,
)
from tests.sandbox_stripe_helpers import DECLINED_CARD, GOOD_CARD, pay

pytestmark = pytest.mark.timeout(60)

# GSM 03.38 basic character set: a text using only these fits 160 characters a segment.
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# What a payment text must never carry (the reason, the patient, anything clinical).
NEVER_IN_TEXT = (
    REASON,
    "copay",
    "cbt",
    "panic",
    "disorder",
    "diagnos",
    "therapy",
    "anxiety",
    "depress",
    "session",
    PATIENT_FIRST,
    PATIENT_LAST,
    SESSION_TYPE_LABEL,
    SESSION_TYPE_CODE,
)


# -- helpers ----------------------------------------------------------------------------------
def send(env: AppEnv, world: World, form: RequestForm | None = None, **kw):
    return send_payment_request(
        world.engine,
        world.who,
        patient_id=world.patient_id,
        form=form or world.form(),
        sms=kw.pop("sms", env.sms),
        public_base_url=env.api,
        max_cents=env.settings.max_request_cents,
        **kw,
    )


def submit(env: AppEnv, world: World, form: RequestForm | None = None) -> tuple[int, bool, str]:
    return submit_request(
        world.engine,
        world.who,
        patient_id=world.patient_id,
        form=form or world.form(),
        max_cents=env.settings.max_request_cents,
    )


def tap(env: AppEnv, token: str):
    return env.http.get(f"{env.api}/pay/{token}")


def sandbox_sdk(env: AppEnv) -> stripe.StripeClient:
    base = env.sandbox.base_url
    return stripe.StripeClient(
        env.sandbox.stripe_key,
        base_addresses={"api": base, "connect": base},
        max_network_retries=0,
    )


def snapshot(world: World) -> dict:
    """Everything a refused submit must leave as it was."""
    return {
        "requests": requests_of(world),
        "sms": sms_rows(world),
        "patient": patient_row(world).model_dump(),
        "next_invoice": practice_row(world).next_invoice_number,
    }


def texting_hours_after(moment: dt.datetime) -> dt.datetime:
    """`moment`, or the next noon at the practice when `moment` falls outside 9:00-19:00:
    automatic retries wait for texting hours, and the job is given its clock here."""
    local = moment.astimezone(ZoneInfo(PRACTICE_TZ))
    if 9 <= local.hour < 19:
        return moment
    day = local.date() if local.hour < 9 else local.date() + dt.timedelta(days=1)
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=ZoneInfo(PRACTICE_TZ))
    return noon.astimezone(dt.UTC)


# -- 1. the happy path ------------------------------------------------------------------------
def test_request_is_texted_then_paid_through_checkout_with_a_receipt(
    app_env: AppEnv, engine: Engine
) -> None:
    world = app_env.world(engine)
    outcome = send(app_env, world)
    assert (outcome.status, outcome.created, outcome.level) == ("sent", True, "success")
    request = request_row(engine, outcome.request_id)
    link = f"{app_env.api}/pay/{request.pay_token}"

    texts = app_env.sandbox.texts_containing(request.pay_token)
    assert len(texts) == 1, texts
    text = texts[0]
    body = text["body"]
    assert text["to"] == PATIENT_MOBILE
    assert PRACTICE_NAME in body
    assert "$50.00" in body
    assert f"{link} " in body  # the whole link, nothing glued to it
    assert len(body) <= 160, body
    assert set(body) <= GSM7_BASIC, set(body) - GSM7_BASIC
    assert text["num_segments"] == "1"
    words = body.replace(link, "").lower()
    leaked = [w for w in NEVER_IN_TEXT if w.lower() in words]
    assert leaked == [], body

    opened = tap(app_env, request.pay_token)
    assert opened.status_code == 303
    checkout_url = opened.headers["location"]
    assert checkout_url.startswith(f"{app_env.sandbox.base_url}/sandbox/checkout/cs_")
    page = app_env.http.get(checkout_url)
    assert PRACTICE_NAME in page.text and "$50.00" in page.text
    assert "panic" not in page.text.lower() and PATIENT_LAST not in page.text

    paid = pay(checkout_url, GOOD_CARD)
    assert paid.status_code == 303, paid.text
    request = request_row(engine, outcome.request_id)
    assert paid.headers["location"] == f"{link}/thanks?session_id={request.checkout_session_id}"
    thanks = app_env.http.get(paid.headers["location"])
    assert thanks.status_code == 200
    assert "payment received" in thanks.text.lower()
    assert "$50.00" in thanks.text and PRACTICE_NAME in thanks.text
    assert f"INV-{request.invoice_number:05d}" in thanks.text

    # Stripe's webhooks for the same payment land too: still paid once.
    app_env.sandbox.wait_webhooks_idle()
    request = request_row(engine, outcome.request_id)
    assert request.status == "paid"
    assert request.paid_at is not None
    assert (request.amount_cents, request.fee_cents, request.net_cents) == (5000, 175, 4825)
    assert request.payment_intent_id.startswith("pi_")
    kinds = collections.Counter(event_kinds(engine, request.id or 0))
    for kind in ("created", "sms_sent", "link_opened", "paid"):
        assert kinds[kind] == 1, kinds

    # A destination charge on the clinician's account with the fee as application fee.
    intent = sandbox_sdk(app_env).v1.payment_intents.retrieve(request.payment_intent_id)
    assert intent.amount == 5000
    assert intent.application_fee_amount == 175
    assert intent.transfer_data.destination == world.account_id
    assert intent.metadata["jotpay_request_id"] == str(request.id)
    # Nothing about the patient or the care in what Stripe stores: ids and the invoice only.
    checkout = sandbox_sdk(app_env).v1.checkout.sessions.retrieve(request.checkout_session_id)
    assert set(intent.metadata.to_dict()) == {"jotpay_request_id", "invoice"}
    assert set(checkout.metadata.to_dict()) == {"jotpay_request_id", "invoice"}
    stored = str(intent.to_dict()) + str(checkout.to_dict())
    assert PATIENT_LAST not in stored and request.reason not in stored


def test_thank_you_page_records_the_payment_when_the_webhook_is_late(
    app_env: AppEnv, engine: Engine
) -> None:
    world = app_env.world(engine)
    outcome = send(app_env, world)
    token = request_row(engine, outcome.request_id).pay_token
    checkout_url = tap(app_env, token).headers["location"]
    app_env.sandbox.stripe_fault(webhooks="delay", seconds=1)
    paid = pay(checkout_url, GOOD_CARD)

    thanks = app_env.http.get(paid.headers["location"])
    assert "payment received" in thanks.text.lower()
    request = request_row(engine, outcome.request_id)
    assert request.status == "paid" and request.paid_at is not None
    assert request.payment_intent_id.startswith("pi_")
    assert app_env.sandbox.stripe_state()["pending_deliveries"], "webhooks were not late"

    app_env.sandbox.wait_webhooks_idle()
    assert event_kinds(engine, outcome.request_id).count("paid") == 1


def test_thank_you_page_and_webhook_at_the_same_moment_record_one_payment(
    app_env: AppEnv, engine: Engine
) -> None:
    world = app_env.world(engine)
    outcome = send(app_env, world)
    token = request_row(engine, outcome.request_id).pay_token
    checkout_url = tap(app_env, token).headers["location"]
    row = request_row(engine, outcome.request_id)
    # Stripe's own webhooks come later; the one posted below plays the first of them.
    app_env.sandbox.stripe_fault(webhooks="delay", seconds=1)
    paid = pay(checkout_url, GOOD_CARD)
    # The thank-you page reads the request, then asks Stripe, which takes a while...
    app_env.sandbox.stripe_fault(mode="hang", count=1, seconds=0.5, path="/v1/checkout/sessions/")
    pages: list[str] = []
    page = threading.Thread(
        target=lambda: pages.append(app_env.http.get(paid.headers["location"]).text)
    )
    page.start()
    poll(lambda: app_env.sandbox.stripe_state()["faults"]["api"] is None, what="page asked")
    # ...and meanwhile checkout.session.completed arrives.
    session = sandbox_sdk(app_env).v1.checkout.sessions.retrieve(row.checkout_session_id)
    event = checkout_completed(outcome.request_id)
    event["data"]["object"].update(id=session.id, payment_intent=session.payment_intent)
    answer = post_stripe_event(
        app_env.http,
        f"{app_env.api}/api/stripe/webhook",
        event,
        app_env.settings.stripe_webhook_secret,
    )
    assert answer.status_code == 200
    page.join(timeout=20)
    assert "payment received" in pages[0].lower()
    app_env.sandbox.wait_webhooks_idle()
    assert request_row(engine, outcome.request_id).status == "paid"
    assert event_kinds(engine, outcome.request_id).count("paid") == 1


# -- 2. a declined card, then a good one --------------------------------------------------------
def test_declined_card_marks_payment_failed_and_the_same_link_still_pays(
    app_env: AppEnv, world: World
) -> None:
    outcome = send(app_env, world)
    token = request_row(world.engine, outcome.request_id).pay_token
    checkout_url = tap(app_env, token).headers["location"]

    declined = pay(checkout_url, DECLINED_CARD)
    assert declined.status_code in (200, 402), declined.status_code
    assert "Your card was declined." in declined.text
    failed = poll(
        lambda: (
            (r := request_row(world.engine, outcome.request_id)).status == "payment_failed" and r
        ),
        what="payment_failed from the webhook",
    )
    assert failed.failure_reason == "Your card was declined."

    again = tap(app_env, token)
    assert again.status_code == 303
    assert again.headers["location"] == checkout_url  # same open Checkout Session
    paid = pay(again.headers["location"], GOOD_CARD)
    assert paid.status_code == 303
    assert app_env.http.get(paid.headers["location"]).status_code == 200
    request = request_row(world.engine, outcome.request_id)
    assert request.status == "paid"
    assert request.failure_reason == ""
    kinds = event_kinds(world.engine, outcome.request_id)
    assert kinds.count("payment_failed") == 1 and kinds.count("paid") == 1


# -- 3. validation ------------------------------------------------------------------------------
YESTERDAY = object()

INVALID_FORMS = [
    pytest.param({"amount": "0.49"}, {"amount": "The minimum is $0.50."}, id="below-minimum"),
    pytest.param({"amount": "12.345"}, {"amount": "Use at most 2 decimals (cents)."}, id="3-dp"),
    pytest.param(
        {"amount": "abc"}, {"amount": "Enter an amount in dollars, like 50 or 50.00."}, id="abc"
    ),
    pytest.param({"amount": "10000.01"}, {"amount": "The maximum is $10,000.00."}, id="too-big"),
    pytest.param({"reason": "   "}, {"reason": "Enter a reason for the payment."}, id="no-reason"),
    pytest.param(
        {"reason": "x" * 201}, {"reason": "Keep the reason under 200 characters."}, id="201-chars"
    ),
    pytest.param(
        {"due_date": YESTERDAY}, {"due_date": "The due date can't be in the past."}, id="past-due"
    ),
    pytest.param(
        {"amount": "abc", "reason": "", "due_date": YESTERDAY},
        {
            "amount": "Enter an amount in dollars, like 50 or 50.00.",
            "reason": "Enter a reason for the payment.",
            "due_date": "The due date can't be in the past.",
        },
        id="all-at-once",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), INVALID_FORMS)
def test_invalid_form_is_refused_field_by_field_and_nothing_is_saved(
    app_env: AppEnv, db: Engine, changes: dict, expected: dict
) -> None:
    world = app_env.world(db, connected=False)
    if changes.get("due_date") is YESTERDAY:
        changes = {**changes, "due_date": (world.today() - dt.timedelta(days=1)).isoformat()}
    before = snapshot(world)
    texts_before = len(app_env.sandbox.twilio_dump()["messages"])
    with pytest.raises(FieldErrors) as refused:
        send(app_env, world, world.form(**changes))
    assert refused.value.errors == expected
    assert snapshot(world) == before
    assert len(app_env.sandbox.twilio_dump()["messages"]) == texts_before


def test_a_reason_of_exactly_200_characters_is_accepted(app_env: AppEnv, db: Engine) -> None:
    world = app_env.world(db, connected=False)
    _, created, status = submit(app_env, world, world.form(reason="y" * 200))
    assert (created, status) == (True, "awaiting_setup")


def test_patient_without_mobile_needs_a_number_and_consent(app_env: AppEnv, db: Engine) -> None:
    world = app_env.world(db, mobile="", consent=False)
    before = snapshot(world)
    with pytest.raises(FieldErrors) as refused:
        send(app_env, world)
    assert refused.value.errors == {
        "mobile": "Enter a mobile number.",
        "consent": "Confirm that the patient agreed to receive payment texts.",
    }
    assert snapshot(world) == before

    with pytest.raises(FieldErrors) as no_consent:
        send(app_env, world, world.form(mobile="(617) 555-0142"))
    assert set(no_consent.value.errors) == {"consent"}
    with pytest.raises(FieldErrors) as bad_number:
        send(
            app_env,
            world,
            world.form(mobile="555", consent_given=True, consent_method="Verbally, in session"),
        )
    assert set(bad_number.value.errors) == {"mobile"}
    assert snapshot(world) == before


def test_patient_without_mobile_gets_the_number_and_consent_saved_and_the_text(
    app_env: AppEnv, db: Engine
) -> None:
    world = app_env.world(db, mobile="", consent=False)
    form = world.form(mobile="(617) 555-0142", consent_given=True, consent_method="By text message")
    outcome = send(app_env, world, form)
    assert (outcome.status, outcome.created) == ("sent", True)
    patient = patient_row(world)
    assert patient.mobile_e164 == PATIENT_MOBILE
    assert patient.sms_consent_at is not None
    assert patient.sms_consent_method == "By text message"
    assert patient.sms_consent_by_clinician_id == world.clinician_id
    token = request_row(db, outcome.request_id).pay_token
    texts = app_env.sandbox.texts_containing(token)
    assert [t["to"] for t in texts] == [PATIENT_MOBILE]


# -- 4. opted out -------------------------------------------------------------------------------
def test_opted_out_patient_is_refused_and_nothing_is_saved(app_env: AppEnv, db: Engine) -> None:
    world = app_env.world(db, opted_out=True)
    before = snapshot(world)
    with pytest.raises(FieldErrors) as refused:
        send(app_env, world)
    assert list(refused.value.errors) == ["mobile"]
    assert "STOP" in refused.value.errors["mobile"]
    assert snapshot(world) == before


# -- 5. double submits ----------------------------------------------------------------------------
def test_the_same_form_submitted_twice_is_one_request_and_one_text(
    app_env: AppEnv, world: World
) -> None:
    form = world.form()
    first = send(app_env, world, form)
    second = send(app_env, world, form)
    assert (first.created, second.created) == (True, False)
    assert second.request_id == first.request_id
    assert [r.id for r in requests_of(world)] == [first.request_id]
    token = request_row(world.engine, first.request_id).pay_token
    assert len(app_env.sandbox.texts_containing(token)) == 1
    assert len(sms_rows(world)) == 1


def test_concurrent_identical_submits_make_exactly_one_request(
    app_env: AppEnv, engine: Engine
) -> None:
    world = app_env.world(engine)
    form = world.form()
    start = threading.Barrier(8)
    results: list[tuple[int, bool, str]] = []
    errors: list[BaseException] = []

    def one_click() -> None:
        start.wait()
        try:
            results.append(submit(app_env, world, form))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    rows = requests_of(world)
    assert len(rows) == 1, [(r.id, r.invoice_number) for r in rows]
    assert {r[0] for r in results} == {rows[0].id}
    assert sorted(created for _, created, _ in results) == [False] * 7 + [True]
    assert rows[0].invoice_number == 1
    assert practice_row(world).next_invoice_number == 2  # no number lost to the losers


def test_concurrent_different_submits_get_invoice_numbers_without_gaps(
    app_env: AppEnv, pg_engine: Engine
) -> None:
    world = app_env.world(pg_engine)
    start = threading.Barrier(10)
    errors: list[BaseException] = []

    def submit_amount(dollars: int) -> None:
        start.wait()
        try:
            submit(app_env, world, world.form(amount=str(dollars)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit_amount, args=(60 + i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    rows = requests_of(world)
    assert sorted(r.invoice_number for r in rows) == list(range(1, 11))
    assert sorted(r.amount_cents for r in rows) == [100 * (60 + i) for i in range(10)]
    assert practice_row(world).next_invoice_number == 11


# -- 6. Twilio failures ----------------------------------------------------------------------------
def test_twilio_500_fails_the_text_then_the_retry_job_sends_it_once(
    app_env: AppEnv, world: World
) -> None:
    app_env.sandbox.twilio_fault(mode="error", count=1)
    outcome = send(app_env, world)
    assert (outcome.status, outcome.level) == ("sms_failed", "warning")
    request = request_row(world.engine, outcome.request_id)
    assert request.failure_reason == "Twilio had a problem."
    assert request.next_sms_attempt_at is not None
    assert request.next_sms_attempt_at > utcnow()
    assert app_env.sandbox.texts_containing(request.pay_token) == []

    # Not due yet: the job leaves it alone.
    assert run_sms_retries(world.engine, app_env.sms, public_base_url=app_env.api) == 0
    attempted = run_sms_retries(
        world.engine,
        app_env.sms,
        public_base_url=app_env.api,
        now=texting_hours_after(request.next_sms_attempt_at + dt.timedelta(seconds=1)),
    )
    assert attempted == 1
    request = request_row(world.engine, outcome.request_id)
    assert request.status == "sent"
    assert request.next_sms_attempt_at is None and request.failure_reason == ""
    assert len(app_env.sandbox.texts_containing(request.pay_token)) == 1


def test_twilio_500_after_creating_the_message_is_found_not_resent(
    app_env: AppEnv, world: World
) -> None:
    app_env.sandbox.twilio_fault(mode="error_after_create", count=1)
    outcome = send(app_env, world)
    assert outcome.status == "sent"
    request = request_row(world.engine, outcome.request_id)
    texts = app_env.sandbox.texts_containing(request.pay_token)
    assert len(texts) == 1
    (message,) = sms_rows(world)
    assert message.twilio_sid == texts[0]["sid"]


def test_twilio_answer_held_back_past_the_timeout_is_found_not_resent(
    app_env: AppEnv, world: World
) -> None:
    app_env.sandbox.twilio_fault(mode="hang_after_create", count=1, seconds=1.0)
    outcome = send(app_env, world, sms=app_env.sms_with_timeout(0.4))
    assert outcome.status == "sent"
    request = request_row(world.engine, outcome.request_id)
    texts = app_env.sandbox.texts_containing(request.pay_token)
    assert len(texts) == 1
    assert sms_rows(world)[0].twilio_sid == texts[0]["sid"]


HANG_SECONDS = 1.0


def test_twilio_hang_past_the_timeout_then_retry_does_not_send_twice(
    app_env: AppEnv, world: World
) -> None:
    app_env.sandbox.twilio_fault(mode="hang", count=1, seconds=HANG_SECONDS)
    outcome = send(app_env, world, sms=app_env.sms_with_timeout(0.4))
    assert outcome.status == "sms_failed"
    request = request_row(world.engine, outcome.request_id)
    assert request.failure_reason == "Twilio did not answer in time."
    assert request.next_sms_attempt_at is not None
    # Whatever the stand-in did with the call it was holding, it has finished by now.
    time.sleep(HANG_SECONDS + 0.3)
    attempted = run_sms_retries(
        world.engine,
        app_env.sms,
        public_base_url=app_env.api,
        now=texting_hours_after(request.next_sms_attempt_at + dt.timedelta(seconds=1)),
    )
    assert attempted == 1
    request = request_row(world.engine, outcome.request_id)
    assert request.status == "sent"
    texts = app_env.sandbox.texts_containing(request.pay_token)
    assert len(texts) == 1
    assert [m.twilio_sid for m in sms_rows(world)] == [texts[0]["sid"]]


def test_twilio_hang_fault_still_sends_after_the_client_gave_up(
    app_env: AppEnv, world: World
) -> None:
    """Without this the hang test above cannot prove the lookup-before-resend path."""
    app_env.sandbox.twilio_fault(mode="hang", count=1, seconds=HANG_SECONDS)
    outcome = send(app_env, world, sms=app_env.sms_with_timeout(0.4))
    token = request_row(world.engine, outcome.request_id).pay_token
    poll(lambda: app_env.sandbox.texts_containing(token), timeout=HANG_SECONDS + 1)


def test_number_that_texted_stop_is_a_permanent_failure_and_opts_the_patient_out(
    app_env: AppEnv, db: Engine
) -> None:
    # Twilio's magic number: any send to it fails with 21610 (recipient unsubscribed).
    world = app_env.world(db, mobile="+15005550004")
    outcome = send(app_env, world)
    assert (outcome.status, outcome.level) == ("sms_failed", "error")
    request = request_row(db, outcome.request_id)
    assert request.next_sms_attempt_at is None
    assert request.failure_reason == PERMANENT_ERRORS[21610]
    (message,) = sms_rows(world)
    assert (message.status, message.error_code) == ("failed", "21610")
    patient = patient_row(world)
    assert patient.sms_opted_out is True and patient.sms_opted_out_at is not None

    later = utcnow() + dt.timedelta(days=1)
    assert run_sms_retries(db, app_env.sms, public_base_url=app_env.api, now=later) == 0
    assert request_row(db, outcome.request_id).status == "sms_failed"
    assert app_env.sandbox.texts_containing(request.pay_token) == []


def test_retry_job_skips_a_patient_who_opted_out_and_still_sends_the_others(
    app_env: AppEnv, db: Engine
) -> None:
    world = app_env.world(db, mobile="+16175550161")
    # A second patient of the same practice, with a request made after the first one.
    with Session(db, expire_on_commit=False) as session:
        other = Patient(
            practice_id=world.practice_id,
            first_name="Sam",
            last_name="Other",
            mobile_e164="+16175550162",
            sms_consent_at=utcnow(),
            sms_consent_method="Verbally, in session",
        )
        session.add(other)
        session.commit()
        other_id = other.id or 0

    app_env.sandbox.twilio_fault(mode="error", count=4)  # two sends + their lookups
    first = send(app_env, world)
    second = send_payment_request(
        db,
        world.who,
        patient_id=other_id,
        form=world.form(),
        sms=app_env.sms,
        public_base_url=app_env.api,
        max_cents=app_env.settings.max_request_cents,
    )
    assert (first.status, second.status) == ("sms_failed", "sms_failed")
    app_env.sandbox.clear_faults()

    # The first patient answers STOP before the retry is due.
    assert app_env.sandbox.reply_as_patient(world.mobile, "STOP").status_code in (200, 303)
    poll(lambda: patient_row(world).sms_opted_out, what="STOP reached the app")

    later = texting_hours_after(utcnow() + dt.timedelta(hours=1))
    run_sms_retries(db, app_env.sms, public_base_url=app_env.api, now=later)
    assert request_row(db, second.request_id).status == "sent"
    stopped = request_row(db, first.request_id)
    assert stopped.status == "sms_failed"
    assert stopped.next_sms_attempt_at is None  # no more automatic attempts
    assert app_env.sandbox.texts_containing(stopped.pay_token) == []


# -- 7. a crash between recording and sending -----------------------------------------------------
def test_request_left_in_sending_is_sent_once_by_the_retry_job(
    app_env: AppEnv, world: World
) -> None:
    request_id, created, status = submit(app_env, world)
    assert (created, status) == (True, "sending")
    token = request_row(world.engine, request_id).pay_token
    assert app_env.sandbox.texts_containing(token) == []

    # Not stuck yet (under 2 minutes): nothing happens.
    assert run_sms_retries(world.engine, app_env.sms, public_base_url=app_env.api) == 0
    later = utcnow() + dt.timedelta(minutes=3)
    assert run_sms_retries(world.engine, app_env.sms, public_base_url=app_env.api, now=later) == 1
    assert request_row(world.engine, request_id).status == "sent"
    assert len(app_env.sandbox.texts_containing(token)) == 1

    assert run_sms_retries(world.engine, app_env.sms, public_base_url=app_env.api, now=later) == 0
    assert len(app_env.sandbox.texts_containing(token)) == 1
    assert event_kinds(world.engine, request_id).count("sms_sent") == 1


# -- 8. the pay link in every state ---------------------------------------------------------------
def test_unknown_link_is_404_and_reveals_nothing(app_env: AppEnv, world: World) -> None:
    awaiting = add_request(world, status="awaiting_setup")
    pages = [
        tap(app_env, "nope-" + "x" * 20),
        tap(app_env, "y" * 200),
        tap(app_env, awaiting.pay_token),  # not sent yet: as good as unknown
    ]
    assert [p.status_code for p in pages] == [404, 404, 404]
    assert len({p.text for p in pages}) == 1
    for word in (PRACTICE_NAME, "$", PATIENT_FIRST, "INV-", "Riverside"):
        assert word not in pages[0].text


def test_paid_link_shows_already_paid(app_env: AppEnv, world: World) -> None:
    request = add_request(world, status="paid", paid=True)
    page = tap(app_env, request.pay_token)
    assert page.status_code == 200
    assert "already paid" in page.text
    assert f"INV-{request.invoice_number:05d}" in page.text and "$50.00" in page.text


def test_canceled_and_long_overdue_links_are_no_longer_valid(app_env: AppEnv, world: World) -> None:
    canceled = add_request(world)
    with Session(world.engine) as session:
        row = lifecycle.lock_request(session, canceled.id or 0)
        assert row is not None
        lifecycle.transition(session, row, "canceled", actor="clinician", kind="canceled")
        session.commit()
    stale = add_request(world, due_date=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=61))
    for request in (canceled, stale):
        page = tap(app_env, request.pay_token)
        assert page.status_code == 410
        assert "no longer valid" in page.text
    assert request_row(world.engine, stale.id or 0).checkout_attempt == 0


def test_stripe_500_on_first_tap_then_the_next_tap_reuses_the_same_attempt(
    app_env: AppEnv, world: World
) -> None:
    outcome = send(app_env, world)
    token = request_row(world.engine, outcome.request_id).pay_token
    app_env.sandbox.stripe_fault(mode="error", count=1, path="/v1/checkout")
    first = tap(app_env, token)
    assert first.status_code == 503
    assert "not available right now" in first.text

    second = tap(app_env, token)
    assert second.status_code == 303, second.text
    request = request_row(world.engine, outcome.request_id)
    assert request.checkout_attempt == 1
    assert second.headers["location"] == request.checkout_url

    third = tap(app_env, token)
    assert third.headers["location"] == second.headers["location"]
    request = request_row(world.engine, outcome.request_id)
    assert request.checkout_attempt == 1
    assert event_kinds(world.engine, outcome.request_id).count("link_opened") == 1
    sessions = sandbox_sdk(app_env).v1.checkout.sessions.list({"limit": 100})
    mine = [s for s in sessions.data if f"/pay/{token}/" in s.success_url]
    assert [s.id for s in mine] == [request.checkout_session_id]


def test_simultaneous_taps_share_one_checkout_session(app_env: AppEnv, pg_engine: Engine) -> None:
    world = app_env.world(pg_engine)
    outcome = send(app_env, world)
    token = request_row(pg_engine, outcome.request_id).pay_token
    answers: list[tuple[int, str]] = []

    def one_tap() -> None:
        page = tap(app_env, token)
        answers.append((page.status_code, page.headers.get("location", "")))

    threads = [threading.Thread(target=one_tap) for _ in range(5)]
    # Hold the row lock until all five taps wait for it, so they really overlap.
    with Session(pg_engine) as holder:
        assert lifecycle.lock_request(holder, outcome.request_id) is not None
        for thread in threads:
            thread.start()
        wait_for_lock_waiters(pg_engine, 5)
        holder.commit()
    for thread in threads:
        thread.join(timeout=20)
    request = request_row(pg_engine, outcome.request_id)
    assert answers == [(303, request.checkout_url)] * 5
    assert request.checkout_attempt == 1
    assert event_kinds(pg_engine, outcome.request_id).count("link_opened") == 1


def test_thanks_page_does_not_trust_another_requests_session(app_env: AppEnv, world: World) -> None:
    """A paid Checkout Session id pasted into another request's thank-you URL pays nothing."""
    paid_one = send(app_env, world)
    other = send(app_env, world, world.form(amount="75"))
    paid_token = request_row(world.engine, paid_one.request_id).pay_token
    other_token = request_row(world.engine, other.request_id).pay_token
    result = pay(tap(app_env, paid_token).headers["location"], GOOD_CARD)
    session_id = result.headers["location"].split("session_id=")[1]

    page = app_env.http.get(f"{app_env.api}/pay/{other_token}/thanks?session_id={session_id}")
    assert page.status_code == 200
    assert "payment received" not in page.text.lower()
    assert request_row(world.engine, other.request_id).status == "sent"


def test_link_of_a_clinician_whose_account_was_disabled_is_unavailable(
    app_env: AppEnv, world: World
) -> None:
    outcome = send(app_env, world)
    with Session(world.engine) as session:
        account = session.exec(
            select(StripeAccount).where(StripeAccount.clinician_id == world.clinician_id)
        ).one()
        account.charges_enabled = False
        session.add(account)
        session.commit()
    page = tap(app_env, request_row(world.engine, outcome.request_id).pay_token)
    assert page.status_code == 503
    assert PRACTICE_NAME in page.text
