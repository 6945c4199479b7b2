"""The Twilio stand-in driven by the official `twilio` SDK through the app's http client.

Everything runs against the real CLI (`python -m jotpay_app.sandbox`) on 127.0.0.1;
status callbacks and inbound webhooks are received by a local threaded HTTP server.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from jotpay_app.services.twilio_http import (
    BaseUrlTwilioHttpClient,
    TwilioRequestTimeout,
    build_twilio_client,
    rewrite_base_url,
)
from tests.sandbox_twilio_helpers import (
    ReceivedRequest,
    SandboxProcess,
    WebhookReceiver,
    wait_until,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SCHEMA = json.loads((FIXTURES / "twilio_message_schema_fields.json").read_text())
CLINIC_NUMBER = "+15005550006"
OTHER_CLINIC_NUMBER = "+15005550010"
RFC2822_GMT = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")

pytestmark = pytest.mark.timeout(60)


def patient_number() -> str:
    """A fresh, possible US number per test so tests sharing a sandbox never collide."""
    # +1555 2000000..9999999: never one of the designated +155501300xx failure numbers.
    return f"+1555{2_000_000 + secrets.randbelow(8_000_000)}"


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver
) -> Iterator[SandboxProcess]:
    data_dir = tmp_path_factory.mktemp("twilio-sandbox") / "data"
    with SandboxProcess(data_dir, webhook_url=f"{receiver.base_url}/inbound") as running:
        yield running


@pytest.fixture
def client(sandbox: SandboxProcess) -> Iterator[Client]:
    sandbox.clear_faults()
    yield build_twilio_client(sandbox.account_sid, sandbox.auth_token, sandbox.base_url, timeout=5)
    sandbox.clear_faults()


def wait_for_status(client: Client, sid: str, status: str, timeout: float = 5.0) -> object:
    def probe() -> object | None:
        message = client.messages(sid).fetch()
        return message if message.status == status else None

    return wait_until(probe, timeout=timeout)


def wait_for_requests(
    receiver: WebhookReceiver,
    path_prefix: str,
    count: int,
    sent_from: str | None = None,
    timeout: float = 10.0,
) -> list[ReceivedRequest]:
    """Wait until at least `count` POSTs reached `path_prefix` (from `sent_from`, if given)."""

    def probe() -> list[ReceivedRequest] | None:
        hits = [
            r
            for r in receiver.received(path_prefix)
            if sent_from is None or r.params.get("From") == sent_from
        ]
        return hits if len(hits) >= count else None

    return wait_until(probe, timeout=timeout)


def raw_get(sandbox: SandboxProcess, path: str, **params: str) -> requests.Response:
    return requests.get(
        f"{sandbox.base_url}{path}",
        params=params,
        auth=(sandbox.account_sid, sandbox.auth_token),
        timeout=5,
    )


# --- the http client -------------------------------------------------------------------


def test_http_client_rewrites_scheme_and_host_but_keeps_path_and_query() -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?To=%2B1&Page=2"
    assert (
        rewrite_base_url(url, "http://127.0.0.1:9999")
        == "http://127.0.0.1:9999/2010-04-01/Accounts/AC1/Messages.json?To=%2B1&Page=2"
    )
    assert (
        rewrite_base_url(url, "https://proxy.local/twilio/")
        == "https://proxy.local/twilio/2010-04-01/Accounts/AC1/Messages.json?To=%2B1&Page=2"
    )
    with pytest.raises(ValueError):
        BaseUrlTwilioHttpClient(base_url="ftp://nope")


# --- sending and fetching ---------------------------------------------------------------


def test_send_returns_a_queued_message_shaped_like_twilios(
    client: Client, sandbox: SandboxProcess
) -> None:
    to = patient_number()
    message = client.messages.create(
        to=to, from_=CLINIC_NUMBER, body="Your invoice: https://pay.example/i/abc"
    )
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert message.status == "queued"
    assert (message.to, message.from_, message.direction) == (to, CLINIC_NUMBER, "outbound-api")
    assert message.date_sent is None
    assert message.num_segments == "1"

    raw = raw_get(
        sandbox, f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages/{message.sid}.json"
    )
    assert raw.status_code == 200
    resource = raw.json()
    assert sorted(resource) == SCHEMA["fields"]
    assert resource["account_sid"] == sandbox.account_sid
    assert resource["api_version"] == "2010-04-01"
    assert resource["status"] in SCHEMA["status_values"]
    assert resource["direction"] in SCHEMA["direction_values"]
    assert RFC2822_GMT.match(resource["date_created"])
    assert resource["uri"] == (
        f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages/{message.sid}.json"
    )
    assert resource["subresource_uris"]["media"].endswith(f"/Messages/{message.sid}/Media.json")


def test_message_goes_from_queued_to_sent_to_delivered(client: Client) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    message = client.messages.create(to=patient_number(), from_=CLINIC_NUMBER, body="Hello")
    delivered = wait_for_status(client, message.sid, "delivered")
    assert delivered.error_code is None
    assert delivered.date_sent is not None and delivered.date_sent >= before
    assert delivered.price is not None and float(delivered.price) < 0
    assert delivered.price_unit == "USD"


def test_long_and_unicode_bodies_count_segments_as_twilio(client: Client) -> None:
    gsm = client.messages.create(to=patient_number(), from_=CLINIC_NUMBER, body="a" * 161)
    unicode = client.messages.create(to=patient_number(), from_=CLINIC_NUMBER, body="é€ü😀" * 20)
    assert gsm.num_segments == "2"  # 161 GSM-7 characters: two 153-character parts
    assert unicode.num_segments == "2"  # 100 UTF-16 units: two 67-unit parts


def test_messaging_service_send_is_accepted_then_gets_a_sender(client: Client) -> None:
    service_sid = "MG" + secrets.token_hex(16)
    message = client.messages.create(
        to=patient_number(), messaging_service_sid=service_sid, body="Via a service"
    )
    assert (message.status, message.from_) == ("accepted", None)
    delivered = wait_for_status(client, message.sid, "delivered")
    assert delivered.from_ == CLINIC_NUMBER
    assert delivered.messaging_service_sid == service_sid


def test_fetching_an_unknown_message_is_a_404(client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.messages("SM" + "0" * 32).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)


# --- errors ----------------------------------------------------------------------------


def test_bad_credentials_are_refused_with_401_and_20003(sandbox: SandboxProcess) -> None:
    wrong = build_twilio_client(sandbox.account_sid, "not-the-token", sandbox.base_url, timeout=5)
    with pytest.raises(TwilioRestException) as raised:
        wrong.messages.create(to=patient_number(), from_=CLINIC_NUMBER, body="x")
    assert (raised.value.status, raised.value.code) == (401, 20003)

    raw = requests.get(
        f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json", timeout=5
    )
    assert raw.status_code == 401
    assert raw.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    nothing_sent = [m for m in sandbox.debug_messages()["messages"] if m["body"] == "x"]
    assert nothing_sent == []


@pytest.mark.parametrize("to", ["12345", "+1555", "5551234567", "call me", "+15005550001"])
def test_invalid_to_number_is_refused_with_21211(client: Client, to: str) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=to, from_=CLINIC_NUMBER, body="Hello")
    assert (raised.value.status, raised.value.code) == (400, 21211)


def test_missing_body_and_sender_are_refused_as_twilio_does(client: Client) -> None:
    with pytest.raises(TwilioRestException) as no_body:
        client.messages.create(to=patient_number(), from_=CLINIC_NUMBER, body="")
    assert no_body.value.code == 21602
    with pytest.raises(TwilioRestException) as no_sender:
        client.messages.create(to=patient_number(), body="Hello")
    assert no_sender.value.code == 21603


# --- listing ---------------------------------------------------------------------------


def test_list_filters_by_to_and_from_newest_first(client: Client) -> None:
    patient, other_patient = patient_number(), patient_number()
    sent = [
        client.messages.create(to=patient, from_=CLINIC_NUMBER, body=f"text {i}").sid
        for i in range(3)
    ]
    from_other_clinic = client.messages.create(
        to=patient, from_=OTHER_CLINIC_NUMBER, body="other clinic"
    ).sid
    client.messages.create(to=other_patient, from_=CLINIC_NUMBER, body="someone else")

    to_patient = [m.sid for m in client.messages.list(to=patient)]
    assert to_patient == [from_other_clinic, *reversed(sent)]
    from_clinic = [m.sid for m in client.messages.list(to=patient, from_=CLINIC_NUMBER)]
    assert from_clinic == list(reversed(sent))
    assert [m.body for m in client.messages.list(to=other_patient)] == ["someone else"]


def test_list_pages_like_twilio(client: Client, sandbox: SandboxProcess) -> None:
    patient = patient_number()
    sent = [
        client.messages.create(to=patient, from_=CLINIC_NUMBER, body=f"page test {i}").sid
        for i in range(5)
    ]
    newest_first = list(reversed(sent))

    first = client.messages.page(to=patient, page_size=2)
    assert [m.sid for m in first] == newest_first[:2]
    assert first.next_page_url is not None
    second = first.next_page()
    assert [m.sid for m in second] == newest_first[2:4]
    third = second.next_page()
    assert [m.sid for m in third] == newest_first[4:]
    assert third.next_page_url is None
    # The SDK's stream/list follow next_page_uri across pages by themselves.
    assert [m.sid for m in client.messages.stream(to=patient, page_size=2)] == newest_first
    assert [m.sid for m in client.messages.list(to=patient, limit=3)] == newest_first[:3]

    path = f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json"
    raw = raw_get(sandbox, path, To=patient, PageSize="2").json()
    assert (raw["page"], raw["page_size"], raw["start"], raw["end"]) == (0, 2, 0, 1)
    assert raw["uri"].startswith(path + "?") and "PageSize=2" in raw["uri"]
    assert raw["first_page_uri"].startswith(path + "?") and "Page=0" in raw["first_page_uri"]
    assert f"PageToken=PA{newest_first[1]}" in raw["next_page_uri"]
    assert raw["previous_page_uri"] is None
    raw_second = requests.get(
        sandbox.base_url + raw["next_page_uri"],
        auth=(sandbox.account_sid, sandbox.auth_token),
        timeout=5,
    ).json()
    assert (raw_second["page"], raw_second["start"], raw_second["end"]) == (1, 2, 3)
    assert raw_second["previous_page_uri"] is not None


def test_list_filters_by_date_sent(client: Client) -> None:
    patient = patient_number()
    started = datetime.now(UTC).replace(microsecond=0)
    sid = client.messages.create(to=patient, from_=CLINIC_NUMBER, body="dated").sid
    # A queued message has no date_sent yet and so matches no DateSent filter (as Twilio).
    assert client.messages.list(to=patient, date_sent_after=started - timedelta(minutes=1)) == []
    wait_for_status(client, sid, "sent", timeout=5)

    def sids(**filters: object) -> list[str]:
        return [m.sid for m in client.messages.list(to=patient, **filters)]

    assert sids(date_sent_after=started) == [sid]
    assert sids(date_sent_after=started + timedelta(minutes=5)) == []
    assert sids(date_sent_before=started - timedelta(minutes=5)) == []
    assert sids(date_sent_before=started + timedelta(minutes=5)) == [sid]
    assert sids(date_sent=started.date()) == [sid]
    assert sids(date_sent=(started - timedelta(days=2)).date()) == []


# --- opt-out -----------------------------------------------------------------------------


def test_stop_reply_blocks_sends_with_21610_until_start(
    client: Client, sandbox: SandboxProcess, receiver: WebhookReceiver
) -> None:
    patient = patient_number()
    client.messages.create(to=patient, from_=CLINIC_NUMBER, body="Please pay")

    reply = sandbox.reply_as_patient(patient, CLINIC_NUMBER, "  Stop ")
    assert reply.status_code == 303
    for sender in (CLINIC_NUMBER, OTHER_CLINIC_NUMBER):
        with pytest.raises(TwilioRestException) as raised:
            client.messages.create(to=patient, from_=sender, body="Still there?")
        assert (raised.value.status, raised.value.code) == (400, 21610)

    # Twilio still forwards the STOP to the app, signed.
    inbound = wait_for_requests(receiver, "/inbound", 1, sent_from=patient)[0]
    assert inbound.params["Body"] == "  Stop "
    assert inbound.params["To"] == CLINIC_NUMBER
    assert inbound.params["OptOutType"] == "STOP"
    assert re.fullmatch(r"SM[0-9a-f]{32}", inbound.params["MessageSid"])
    assert RequestValidator(sandbox.auth_token).validate(
        f"{receiver.base_url}/inbound", inbound.params, inbound.signature
    )
    page = requests.get(sandbox.outbox_url(patient), timeout=5).text
    assert "data-opted-out='true'" in page

    assert sandbox.reply_as_patient(patient, CLINIC_NUMBER, "START").status_code == 303
    again = client.messages.create(to=patient, from_=CLINIC_NUMBER, body="Welcome back")
    assert again.status == "queued"
    assert "data-opted-out='false'" in requests.get(sandbox.outbox_url(patient), timeout=5).text


@pytest.mark.parametrize(
    ("opt_out_word", "opt_in_word"),
    [("stopall", "yes"), ("UNSUBSCRIBE", "unstop"), ("Cancel", "START"), ("end", "Yes")],
)
def test_every_twilio_opt_out_word_blocks_and_opt_in_word_unblocks(
    client: Client, sandbox: SandboxProcess, opt_out_word: str, opt_in_word: str
) -> None:
    patient = patient_number()
    sandbox.reply_as_patient(patient, CLINIC_NUMBER, opt_out_word)
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=patient, from_=CLINIC_NUMBER, body="x")
    assert raised.value.code == 21610
    sandbox.reply_as_patient(patient, CLINIC_NUMBER, opt_in_word)
    assert client.messages.create(to=patient, from_=CLINIC_NUMBER, body="y").status == "queued"


def test_a_word_inside_a_sentence_does_not_opt_out(
    client: Client, sandbox: SandboxProcess, receiver: WebhookReceiver
) -> None:
    patient = patient_number()
    sandbox.reply_as_patient(patient, CLINIC_NUMBER, "please stop by tomorrow")
    sandbox.reply_as_patient(patient, CLINIC_NUMBER, "help")
    assert client.messages.create(to=patient, from_=CLINIC_NUMBER, body="ok").status == "queued"
    received = wait_for_requests(receiver, "/inbound", 2, sent_from=patient)
    assert len(received) == 2
    by_body = {r.params["Body"]: r.params for r in received}
    assert "OptOutType" not in by_body["please stop by tomorrow"]
    assert by_body["help"]["OptOutType"] == "HELP"


# --- status callbacks ----------------------------------------------------------------------


def test_status_callbacks_are_signed_and_verifiable(
    client: Client, sandbox: SandboxProcess, receiver: WebhookReceiver
) -> None:
    callback_url = f"{receiver.base_url}/status?case=signed&x=1"
    message = client.messages.create(
        to=patient_number(), from_=CLINIC_NUMBER, body="Signed", status_callback=callback_url
    )
    callbacks = wait_for_requests(receiver, "/status?case=signed", 2)
    assert [c.params["MessageStatus"] for c in callbacks] == ["sent", "delivered"]
    validator = RequestValidator(sandbox.auth_token)
    for callback in callbacks:
        assert callback.params["MessageSid"] == message.sid
        assert callback.params["SmsStatus"] == callback.params["MessageStatus"]
        assert callback.params["AccountSid"] == sandbox.account_sid
        assert callback.params["From"] == CLINIC_NUMBER
        assert callback.params["ApiVersion"] == "2010-04-01"
        assert "ErrorCode" not in callback.params
        assert validator.validate(callback_url, callback.params, callback.signature)

    delivered = callbacks[-1]
    tampered = {**delivered.params, "MessageStatus": "failed"}
    assert not validator.validate(callback_url, tampered, delivered.signature)
    assert not validator.validate(
        callback_url.replace("x=1", "x=2"), delivered.params, delivered.signature
    )
    assert not RequestValidator("another-token").validate(
        callback_url, delivered.params, delivered.signature
    )


def test_status_callback_is_retried_after_a_non_2xx_answer(
    client: Client, receiver: WebhookReceiver
) -> None:
    callback_url = f"{receiver.base_url}/status?case=retry"
    receiver.fail_next("/status?case=retry", [500, 503])
    client.messages.create(
        to=patient_number(), from_=CLINIC_NUMBER, body="Retry", status_callback=callback_url
    )
    callbacks = wait_for_requests(receiver, "/status?case=retry", 4)
    assert [c.params["MessageStatus"] for c in callbacks] == ["sent", "sent", "sent", "delivered"]
    tokens = [c.headers["I-Twilio-Idempotency-Token"] for c in callbacks]
    assert tokens[0] == tokens[1] == tokens[2] != tokens[3]


@pytest.mark.parametrize(
    ("to", "final_status", "error_code"),
    [
        ("+15550130003", "undelivered", 30003),
        ("+15550130005", "undelivered", 30005),
        ("+15550130006", "failed", 30006),
        ("+15550130007", "undelivered", 30007),
    ],
)
def test_designated_numbers_end_failed_or_undelivered(
    client: Client, receiver: WebhookReceiver, to: str, final_status: str, error_code: int
) -> None:
    case = f"fail-{error_code}"
    message = client.messages.create(
        to=to,
        from_=CLINIC_NUMBER,
        body="Will not arrive",
        status_callback=f"{receiver.base_url}/status?case={case}",
    )
    ended = wait_for_status(client, message.sid, final_status)
    assert ended.error_code == error_code
    assert ended.error_message
    last_callback = wait_until(
        lambda: [
            r
            for r in receiver.received(f"/status?case={case}")
            if r.params["MessageSid"] == message.sid and r.params["MessageStatus"] == final_status
        ]
    )[0]
    assert last_callback.params["ErrorCode"] == str(error_code)


# --- faults ------------------------------------------------------------------------------


def test_error_fault_answers_500_for_the_next_n_calls(
    client: Client, sandbox: SandboxProcess
) -> None:
    patient = patient_number()
    sandbox.set_fault(mode="error", count=2)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as raised:
            client.messages.create(to=patient, from_=CLINIC_NUMBER, body="during outage")
        assert raised.value.status == 500
    assert client.messages.create(to=patient, from_=CLINIC_NUMBER, body="after").status == "queued"
    assert [m.body for m in client.messages.list(to=patient)] == ["after"]


def test_hang_fault_makes_the_client_time_out(sandbox: SandboxProcess) -> None:
    impatient = build_twilio_client(
        sandbox.account_sid, sandbox.auth_token, sandbox.base_url, timeout=0.5
    )
    sandbox.set_fault(mode="hang", count=1, seconds=2)
    with pytest.raises(TwilioRequestTimeout) as raised:
        impatient.messages.list(to=patient_number())
    assert isinstance(raised.value, TimeoutError)
    # The fault was used up: the next call answers at once.
    assert impatient.messages.list(to=patient_number()) == []


def test_error_after_create_still_sends_so_the_app_must_look_it_up(
    client: Client, sandbox: SandboxProcess
) -> None:
    patient = patient_number()
    started = datetime.now(UTC).replace(microsecond=0)
    sandbox.set_fault(mode="error_after_create", count=1)
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=patient, from_=CLINIC_NUMBER, body="Invoice 42: https://p/42")
    assert raised.value.status == 500

    found = wait_until(
        lambda: client.messages.list(to=patient, date_sent_after=started, limit=20), timeout=5
    )
    assert [m.body for m in found] == ["Invoice 42: https://p/42"]
    wait_for_status(client, found[0].sid, "delivered")


def test_hang_after_create_times_out_but_the_message_exists(sandbox: SandboxProcess) -> None:
    impatient = build_twilio_client(
        sandbox.account_sid, sandbox.auth_token, sandbox.base_url, timeout=0.5
    )
    patient = patient_number()
    sandbox.set_fault(mode="hang_after_create", count=1, seconds=2)
    with pytest.raises(TwilioRequestTimeout):
        impatient.messages.create(to=patient, from_=CLINIC_NUMBER, body="slow")
    assert [m.body for m in impatient.messages.list(to=patient)] == ["slow"]


def test_fault_control_validates_and_clears(sandbox: SandboxProcess) -> None:
    url = f"{sandbox.base_url}/sandbox/twilio/faults"
    assert requests.post(url, json={"mode": "explode"}, timeout=5).status_code == 400
    assert requests.post(url, json={"mode": "hang", "count": 1}, timeout=5).status_code == 400
    assert sandbox.set_fault(mode="error", count=3)["fault"]["remaining"] == 3
    sandbox.clear_faults()
    assert requests.get(url, timeout=5).json() == {"fault": None}


# --- persistence ---------------------------------------------------------------------------


def test_state_survives_a_restart_on_the_same_data_dir(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    with SandboxProcess(tmp_path / "data") as sandbox:
        client = build_twilio_client(
            sandbox.account_sid, sandbox.auth_token, sandbox.base_url, timeout=5
        )
        delivered_before = client.messages.create(
            to=patient_number(), from_=CLINIC_NUMBER, body="before restart"
        ).sid
        wait_for_status(client, delivered_before, "delivered")
        opted_out = patient_number()
        sandbox.reply_as_patient(opted_out, CLINIC_NUMBER, "STOP")
        # Stopped right after creation: its status changes and callbacks are still owed.
        in_flight = client.messages.create(
            to=patient_number(),
            from_=CLINIC_NUMBER,
            body="in flight",
            status_callback=f"{receiver.base_url}/status?case=restart",
        ).sid
        sandbox.restart()

        client = build_twilio_client(
            sandbox.account_sid, sandbox.auth_token, sandbox.base_url, timeout=5
        )
        assert client.messages(delivered_before).fetch().body == "before restart"
        with pytest.raises(TwilioRestException) as raised:
            client.messages.create(to=opted_out, from_=CLINIC_NUMBER, body="x")
        assert raised.value.code == 21610
        wait_for_status(client, in_flight, "delivered")

        def distinct_callbacks() -> list[str] | None:
            # Delivery is at-least-once: a callback cut off by the stop may come twice,
            # with the same idempotency token.
            by_token = {
                r.headers["I-Twilio-Idempotency-Token"]: r.params["MessageStatus"]
                for r in receiver.received("/status?case=restart")
            }
            statuses = list(by_token.values())
            return statuses if statuses == ["sent", "delivered"] else None

        assert wait_until(distinct_callbacks) == ["sent", "delivered"]
    state = json.loads((tmp_path / "data" / "twilio.json").read_text())
    assert delivered_before in state["messages"] and opted_out in state["opt_outs"]


def test_basic_auth_header_must_carry_the_account_sid(sandbox: SandboxProcess) -> None:
    other_account = "AC" + secrets.token_hex(16)
    token = base64.b64encode(f"{other_account}:{sandbox.auth_token}".encode()).decode()
    response = requests.get(
        f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.account_sid}/Messages.json",
        headers={"Authorization": f"Basic {token}"},
        timeout=5,
    )
    assert response.status_code == 401
    assert response.json()["code"] == 20003
