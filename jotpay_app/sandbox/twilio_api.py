"""Local stand-in for the part of Twilio's Programmable Messaging API that JotPay uses.

Served routes (see docs/sandbox-twilio.md for the full contract):

* `POST /2010-04-01/Accounts/{Sid}/Messages.json`            send a text
* `GET  /2010-04-01/Accounts/{Sid}/Messages/{MessageSid}.json` fetch one
* `GET  /2010-04-01/Accounts/{Sid}/Messages.json`             list (filters, paging)
* `GET  /sandbox/outbox`, `/sandbox/outbox/{number}`           the "phone" pages
* `POST /sandbox/outbox/{number}/reply`                       the patient texts back
* `POST|DELETE|GET /sandbox/twilio/faults`                    failures on demand
* `GET  /sandbox/twilio/messages.json`                        debug dump, no auth

The official `twilio` SDK talks to it through `jotpay_app.services.twilio_http`.
Status callbacks and inbound-message webhooks are signed like Twilio's
(X-Twilio-Signature) and delivered by a background task with retries.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import math
import re
import secrets
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from hashlib import sha1
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import phonenumbers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from jotpay_app.sandbox import twilio_outbox
from jotpay_app.sandbox.twilio_store import Job, MessageRecord, TwilioStore, newest_first

_logger = logging.getLogger("jotpay.sandbox.twilio")

API_VERSION = "2010-04-01"
ERROR_DOCS = "https://www.twilio.com/docs/errors/"

# The number texts come from when the caller names a Messaging Service instead of a
# From number (Twilio would pick one from the service's pool).
DEFAULT_SERVICE_SENDER = "+15005550006"

# Pause between two status changes of a message; short so tests stay fast, long
# enough that a caller can observe `queued` before `sent`.
STATUS_STEP_SECONDS = 0.3
# Webhook delivery: attempts in all, and the pause before each retry.
WEBHOOK_MAX_ATTEMPTS = 4
WEBHOOK_RETRY_DELAYS = (0.5, 1.0, 2.0)
WEBHOOK_TIMEOUT_SECONDS = 5.0

PRICE_PER_SEGMENT_USD = Decimal("0.0079")
MAX_BODY_CHARS = 1600
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50

# Twilio's default opt-out handling: the whole body, trimmed, in any case.
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
# Twilio's default auto-replies to those keywords.
KEYWORD_AUTO_REPLIES = {
    "STOP": "You have successfully been unsubscribed. You will not receive any more "
    "messages from this number. Reply START to resubscribe.",
    "START": "You have successfully been re-subscribed to messages from this number. "
    "Reply HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
    "HELP": "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
}

E164_PATTERN = re.compile(r"^\+[1-9][0-9]{6,14}$")
# Alphanumeric sender IDs: up to 11 letters, digits and spaces, at least one letter.
ALPHANUMERIC_SENDER_PATTERN = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
MESSAGING_SERVICE_SID_PATTERN = re.compile(r"^MG[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class TwilioSandboxConfig:
    account_sid: str
    auth_token: str
    data_file: Path
    public_url: str
    inbound_webhook_url: str


@dataclass(frozen=True)
class DesignatedOutcome:
    """How a message to one of the designated test numbers ends."""

    final_status: str
    error_code: int
    error_message: str


# Test numbers: "+155501" followed by the Twilio error code the message ends with.
# Every other valid number is delivered.
DESIGNATED_OUTCOMES: dict[str, DesignatedOutcome] = {
    "+15550130003": DesignatedOutcome("undelivered", 30003, "Unreachable destination handset"),
    "+15550130005": DesignatedOutcome("undelivered", 30005, "Unknown destination handset"),
    "+15550130006": DesignatedOutcome("failed", 30006, "Landline or unreachable carrier"),
    "+15550130007": DesignatedOutcome("undelivered", 30007, "Message filtered"),
}

# Twilio's own magic "To" numbers (from its test credentials) that are refused at once.
INVALID_MAGIC_NUMBER = "+15005550001"
BLOCKED_MAGIC_NUMBER = "+15005550004"


class TwilioApiError(Exception):
    """An error answered with Twilio's error JSON: {code, message, more_info, status}."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_response(self) -> JSONResponse:
        headers = {}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return JSONResponse(
            {
                "code": self.code,
                "message": self.message,
                "more_info": f"{ERROR_DOCS}{self.code}",
                "status": self.status,
            },
            status_code=self.status,
            headers=headers,
        )


# --- small helpers -------------------------------------------------------------------


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822(epoch_seconds: float | None) -> str | None:
    """Twilio's timestamp format, e.g. 'Thu, 30 Jul 2015 20:12:31 +0000'."""
    if epoch_seconds is None:
        return None
    return format_datetime(datetime.fromtimestamp(epoch_seconds, UTC).replace(microsecond=0))


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each sorted key+value."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), sha1).digest()
    return base64.b64encode(digest).decode()


GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


def count_segments(body: str) -> int:
    """SMS segments: GSM-7 160/153 characters, otherwise UCS-2 70/67 code units."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in body):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in body)
        single, multi = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else math.ceil(units / multi)


def is_possible_phone_number(number: str) -> bool:
    if not E164_PATTERN.match(number):
        return False
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


def country_of(number: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


def keyword_of(body: str) -> str | None:
    """'STOP', 'START' or 'HELP' when the whole body is one of Twilio's keywords."""
    word = body.strip().upper()
    if word in OPT_OUT_KEYWORDS:
        return "STOP"
    if word in OPT_IN_KEYWORDS:
        return "START"
    if word in HELP_KEYWORDS:
        return "HELP"
    return None


def lifecycle_for(recipient: str, via_service: bool) -> list[dict[str, Any]]:
    """The status changes a new outbound message goes through after creation."""
    steps: list[dict[str, Any]] = [{"status": "queued"}] if via_service else []
    outcome = DESIGNATED_OUTCOMES.get(recipient)
    if outcome is None:
        return [*steps, {"status": "sent"}, {"status": "delivered"}]
    ending = {
        "status": outcome.final_status,
        "error_code": outcome.error_code,
        "error_message": outcome.error_message,
    }
    if outcome.final_status == "failed":
        return [*steps, ending]
    return [*steps, {"status": "sent"}, ending]


def twiml_reply_bodies(document: str) -> list[str]:
    """Bodies of the <Message> verbs in a TwiML answer to an inbound message."""
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError:
        return []
    if root.tag != "Response":
        return []
    bodies = []
    for verb in root.iter("Message"):
        body_element = verb.find("Body")
        text = body_element.text if body_element is not None else verb.text
        if text and text.strip():
            bodies.append(text.strip())
    return bodies


def parse_date_filter(name: str, value: str) -> tuple[datetime, bool]:
    """Parse a DateSent filter: 'YYYY-MM-DD' (whole day) or an ISO 8601 moment (UTC)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC), True
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise TwilioApiError(400, 20001, f"Invalid {name}: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC), False


def date_sent_matches(sent: float | None, filters: dict[str, str]) -> bool:
    """Twilio's DateSent / DateSent< / DateSent> semantics, all inclusive."""
    if not filters:
        return True
    if sent is None:  # queued or failed before sending: no date_sent, never matches
        return False
    sent_at = datetime.fromtimestamp(sent, UTC)
    for name, value in filters.items():
        moment, whole_day = parse_date_filter(name, value)
        # Twilio has second precision; a moment covers that whole second.
        span_end = moment + (timedelta(days=1) if whole_day else timedelta(seconds=1))
        # DateSent= names a day even when sent as a full timestamp (the SDK always
        # sends one), as a one-second match would be useless.
        if name == "DateSent" and sent_at.date() != moment.date():
            return False
        if name == "DateSent>" and sent_at < moment:
            return False
        if name == "DateSent<" and sent_at >= span_end:
            return False
    return True


def message_resource(record: MessageRecord) -> dict[str, Any]:
    """The Message resource JSON exactly as Twilio's API returns it."""
    account_sid = record["account_sid"]
    path = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{record['sid']}"
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": record["body"],
        "date_created": rfc2822(record["created"]),
        "date_sent": rfc2822(record["sent"]),
        "date_updated": rfc2822(record["updated"]),
        "direction": record["direction"],
        "error_code": record["error_code"],
        "error_message": record["error_message"],
        "from": record["from"],
        "messaging_service_sid": record["messaging_service_sid"],
        "num_media": "0",
        "num_segments": str(record["num_segments"]),
        "price": record["price"],
        "price_unit": "USD",
        "sid": record["sid"],
        "status": record["status"],
        "subresource_uris": {"media": f"{path}/Media.json"},
        "to": record["to"],
        "uri": f"{path}.json",
    }


# --- faults on demand ----------------------------------------------------------------

FAULT_MODES = ("error", "hang", "error_after_create", "hang_after_create")


@dataclass
class Fault:
    """A failure applied to the next `remaining` matching API calls.

    error / hang: any Twilio API call, before it does anything (hang = sleep, then
    handle the call normally). error_after_create / hang_after_create: only message
    creations; the message IS created (and goes on to be delivered), then the API
    answers 500 / sleeps `seconds` before answering 201.
    """

    mode: str
    remaining: int
    seconds: float

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "remaining": self.remaining, "seconds": self.seconds}


def parse_fault(payload: Any) -> Fault:
    if not isinstance(payload, dict):
        raise ValueError("expected a JSON object")
    mode = payload.get("mode")
    if mode not in FAULT_MODES:
        raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
    count = payload.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError("count must be a whole number >= 1")
    seconds = payload.get("seconds", 0)
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        raise ValueError("seconds must be a number")
    if mode.startswith("hang") and not 0 < seconds <= 300:
        raise ValueError("hang modes need 0 < seconds <= 300")
    return Fault(mode=mode, remaining=count, seconds=float(seconds))


# --- the sandbox ---------------------------------------------------------------------


class TwilioSandbox:
    """State, API handlers and the background worker of the Twilio stand-in."""

    default_service_sender = DEFAULT_SERVICE_SENDER

    def __init__(self, cfg: TwilioSandboxConfig) -> None:
        self.cfg = cfg
        self.store = TwilioStore(cfg.data_file)
        self.fault: Fault | None = None
        self._wake = asyncio.Event()
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    # -- authentication and faults ----------------------------------------------------

    def authenticate(self, request: Request, account_sid: str) -> None:
        user, password = "", ""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(encoded).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
        valid = (
            bool(self.cfg.auth_token)
            and hmac.compare_digest(user.encode(), self.cfg.account_sid.encode())
            and hmac.compare_digest(password.encode(), self.cfg.auth_token.encode())
        )
        if not valid:
            raise TwilioApiError(401, 20003, "Authenticate")
        if account_sid != self.cfg.account_sid:
            raise TwilioApiError(
                404, 20404, f"The requested resource {request.url.path} was not found"
            )

    def _take_fault(self, modes: tuple[str, ...]) -> Fault | None:
        fault = self.fault
        if fault is None or fault.mode not in modes:
            return None
        fault.remaining -= 1
        if fault.remaining <= 0:
            self.fault = None
        return fault

    async def _apply_fault_before_call(self) -> None:
        fault = self._take_fault(("error", "hang"))
        if fault is None:
            return
        if fault.mode == "error":
            raise TwilioApiError(500, 20500, "An internal server error has occurred")
        await asyncio.sleep(fault.seconds)

    async def _api_call(
        self, request: Request, handler: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        try:
            self.authenticate(request, request.path_params["account_sid"])
            # Read the body first, as a server does: a client that gives up during a hang
            # has still delivered its request, and Twilio goes on to send it.
            await request.body()
            await self._apply_fault_before_call()
            return await handler(request)
        except TwilioApiError as error:
            return error.to_response()

    # -- REST API -----------------------------------------------------------------------

    async def create_message_endpoint(self, request: Request) -> Response:
        return await self._api_call(request, self._create_message)

    async def fetch_message_endpoint(self, request: Request) -> Response:
        return await self._api_call(request, self._fetch_message)

    async def list_messages_endpoint(self, request: Request) -> Response:
        return await self._api_call(request, self._list_messages)

    async def _create_message(self, request: Request) -> Response:
        form = await request.form()
        fields = {key: str(value) for key, value in form.items()}
        to = fields.get("To", "").strip()
        sender = fields.get("From", "").strip()
        service_sid = fields.get("MessagingServiceSid", "").strip()
        body = fields.get("Body", "")
        status_callback = fields.get("StatusCallback", "").strip()

        if not to:
            raise TwilioApiError(400, 21604, "A 'To' phone number is required.")
        if not sender and not service_sid:
            raise TwilioApiError(400, 21603, "A 'From' phone number is required.")
        if sender and not (
            is_possible_phone_number(sender) or ALPHANUMERIC_SENDER_PATTERN.match(sender)
        ):
            raise TwilioApiError(
                400,
                21212,
                f"The 'From' number {sender} is not a valid phone number, shortcode, "
                "or alphanumeric sender ID.",
            )
        if service_sid and not MESSAGING_SERVICE_SID_PATTERN.match(service_sid):
            raise TwilioApiError(400, 21701, f"The Messaging Service Sid {service_sid} is invalid.")
        if not body:
            raise TwilioApiError(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY_CHARS:
            raise TwilioApiError(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if status_callback and urlsplit(status_callback).scheme not in ("http", "https"):
            raise TwilioApiError(
                400, 21609, f"The StatusCallback URL {status_callback} is not a valid URL."
            )
        if to == INVALID_MAGIC_NUMBER or not is_possible_phone_number(to):
            raise TwilioApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")

        with self.store.transaction() as store:
            if to == BLOCKED_MAGIC_NUMBER or to in store.opt_outs:
                raise TwilioApiError(400, 21610, "Attempt to send to unsubscribed recipient")
            record = self._new_outbound(
                store,
                to=to,
                sender=sender or None,
                service_sid=service_sid or None,
                body=body,
                status_callback=status_callback or None,
                direction="outbound-api",
            )
        self._wake.set()

        after = self._take_fault(("error_after_create", "hang_after_create"))
        if after is not None and after.mode == "error_after_create":
            raise TwilioApiError(500, 20500, "An internal server error has occurred")
        if after is not None:
            await asyncio.sleep(after.seconds)
        return JSONResponse(message_resource(record), status_code=201)

    async def _fetch_message(self, request: Request) -> Response:
        message_sid = request.path_params["message_sid"]
        with self.store.reading() as store:
            record = store.messages.get(message_sid)
            if record is None or record["account_sid"] != self.cfg.account_sid:
                raise TwilioApiError(
                    404, 20404, f"The requested resource {request.url.path} was not found"
                )
            return JSONResponse(message_resource(record))

    async def _list_messages(self, request: Request) -> Response:
        query = request.query_params
        filters = {name: query[name] for name in ("To", "From") if query.get(name)}
        date_filters = {
            name: query[name] for name in ("DateSent", "DateSent<", "DateSent>") if query.get(name)
        }
        try:
            page_size = int(query.get("PageSize", DEFAULT_PAGE_SIZE))
            page = int(query.get("Page", 0))
        except ValueError as exc:
            raise TwilioApiError(400, 20001, "PageSize and Page must be whole numbers") from exc
        if not 1 <= page_size <= MAX_PAGE_SIZE or page < 0:
            raise TwilioApiError(400, 20001, f"PageSize must be 1-{MAX_PAGE_SIZE}, Page >= 0")
        page_token = query.get("PageToken", "")
        for name, value in date_filters.items():
            parse_date_filter(name, value)  # reject bad dates even when nothing is stored

        with self.store.reading() as store:
            matching = newest_first(
                [
                    record
                    for record in store.messages.values()
                    if record["account_sid"] == self.cfg.account_sid
                    and all(record[name.lower()] == value for name, value in filters.items())
                    and date_sent_matches(record["sent"], date_filters)
                ]
            )
        start_index = page * page_size
        sids = [record["sid"] for record in matching]
        # PageToken PA<sid> = "after this message", PB<sid> = "before it" (as Twilio's
        # tokens): pages stay stable while new texts arrive at the top.
        if page_token[:2] == "PA" and page_token[2:] in sids:
            start_index = sids.index(page_token[2:]) + 1
        elif page_token[:2] == "PB" and page_token[2:] in sids:
            start_index = max(sids.index(page_token[2:]) - page_size, 0)
        records = matching[start_index : start_index + page_size]

        base_path = request.url.path
        filter_params = {**filters, **date_filters}

        def page_uri(page_number: int, token: str | None) -> str:
            params: dict[str, Any] = {**filter_params, "PageSize": page_size, "Page": page_number}
            if token:
                params["PageToken"] = token
            return f"{base_path}?{urlencode(params)}"

        has_next = start_index + page_size < len(matching)
        start = page * page_size
        return JSONResponse(
            {
                "messages": [message_resource(record) for record in records],
                "end": start + max(len(records) - 1, 0),
                "first_page_uri": page_uri(0, None),
                "next_page_uri": page_uri(page + 1, f"PA{records[-1]['sid']}")
                if has_next and records
                else None,
                "previous_page_uri": page_uri(page - 1, f"PB{records[0]['sid']}")
                if page > 0 and records
                else None,
                "page": page,
                "page_size": page_size,
                "start": start,
                "uri": page_uri(page, page_token or None),
            }
        )

    # -- creating messages -------------------------------------------------------------

    def _new_outbound(
        self,
        store: TwilioStore,
        *,
        to: str,
        sender: str | None,
        service_sid: str | None,
        body: str,
        status_callback: str | None,
        direction: str,
    ) -> MessageRecord:
        """Store an outbound message and schedule its first status change."""
        now = time.time()
        via_service = sender is None
        record: MessageRecord = {
            "sid": new_sid("SM"),
            "seq": store.take_seq(),
            "account_sid": self.cfg.account_sid,
            "direction": direction,
            "to": to,
            "from": sender,
            "messaging_service_sid": service_sid,
            "body": body,
            # Twilio answers a Messaging Service send with `accepted` and no From yet.
            "status": "accepted" if via_service else "queued",
            "error_code": None,
            "error_message": None,
            "created": now,
            "sent": None,
            "updated": now,
            "num_segments": count_segments(body),
            "price": None,
            "status_callback": status_callback,
            "lifecycle": lifecycle_for(to, via_service),
            "webhook_attempts": [],
        }
        store.messages[record["sid"]] = record
        self._schedule_step(store, record, 0, now + STATUS_STEP_SECONDS)
        return record

    def _schedule_step(
        self, store: TwilioStore, record: MessageRecord, step: int, due: float
    ) -> None:
        if step >= len(record["lifecycle"]):
            return
        store.jobs.append(
            {
                "id": new_sid("JB"),
                "seq": store.take_seq(),
                "kind": "transition",
                "chain": f"status:{record['sid']}",
                "due": due,
                "message_sid": record["sid"],
                "step": step,
            }
        )

    def _schedule_webhook(
        self,
        store: TwilioStore,
        *,
        purpose: str,
        url: str,
        params: dict[str, str],
        message_sid: str,
    ) -> None:
        store.jobs.append(
            {
                "id": new_sid("JB"),
                "seq": store.take_seq(),
                "kind": "webhook",
                # Callbacks of one message go out in order, retries included.
                "chain": f"{purpose}:{message_sid}",
                "due": time.time(),
                "purpose": purpose,
                "url": url,
                "params": params,
                "message_sid": message_sid,
                "attempt": 0,
            }
        )

    def record_inbound(self, patient: str, our_number: str, body: str) -> MessageRecord:
        """The patient texts `body` to `our_number`: store it, apply keywords, notify."""
        for number in (patient, our_number):
            if not is_possible_phone_number(number):
                raise ValueError(f"{number!r} is not an E.164 phone number")
        now = time.time()
        keyword = keyword_of(body)
        with self.store.transaction() as store:
            last_to_patient = next(
                (
                    record
                    for record in newest_first(list(store.messages.values()))
                    if record["to"] == patient and record["from"] == our_number
                ),
                None,
            )
            service_sid = last_to_patient["messaging_service_sid"] if last_to_patient else None
            inbound: MessageRecord = {
                "sid": new_sid("SM"),
                "seq": store.take_seq(),
                "account_sid": self.cfg.account_sid,
                "direction": "inbound",
                "to": our_number,
                "from": patient,
                "messaging_service_sid": service_sid,
                "body": body,
                "status": "received",
                "error_code": None,
                "error_message": None,
                "created": now,
                "sent": now,
                "updated": now,
                "num_segments": count_segments(body),
                "price": f"-{PRICE_PER_SEGMENT_USD * count_segments(body):.5f}",
                "status_callback": None,
                "lifecycle": [],
                "webhook_attempts": [],
            }
            store.messages[inbound["sid"]] = inbound
            if keyword == "STOP":
                store.opt_outs[patient] = {"keyword": body.strip().upper(), "at": now}
            elif keyword == "START":
                store.opt_outs.pop(patient, None)
            if keyword is not None:
                self._new_outbound(
                    store,
                    to=patient,
                    sender=our_number,
                    service_sid=None,
                    body=KEYWORD_AUTO_REPLIES[keyword],
                    status_callback=None,
                    direction="outbound-reply",
                )
            if self.cfg.inbound_webhook_url:
                params = self._inbound_webhook_params(inbound, keyword)
                self._schedule_webhook(
                    store,
                    purpose="inbound",
                    url=self.cfg.inbound_webhook_url,
                    params=params,
                    message_sid=inbound["sid"],
                )
        self._wake.set()
        return inbound

    def _inbound_webhook_params(
        self, inbound: MessageRecord, keyword: str | None
    ) -> dict[str, str]:
        params = {
            "MessageSid": inbound["sid"],
            "SmsMessageSid": inbound["sid"],
            "SmsSid": inbound["sid"],
            "AccountSid": inbound["account_sid"],
            "From": inbound["from"],
            "To": inbound["to"],
            "Body": inbound["body"],
            "NumMedia": "0",
            "NumSegments": str(inbound["num_segments"]),
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
            "FromCountry": country_of(inbound["from"]),
            "ToCountry": country_of(inbound["to"]),
        }
        if inbound["messaging_service_sid"]:
            params["MessagingServiceSid"] = inbound["messaging_service_sid"]
        if keyword is not None:
            params["OptOutType"] = keyword
        # Blank values are left out: many form parsers drop them, which would break the
        # receiver's signature check.
        return {name: value for name, value in params.items() if value}

    # -- background worker --------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Lifespan: run the worker that applies status changes and posts webhooks."""
        # trust_env=False: never route callbacks through a proxy from the environment.
        self._http = httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS, trust_env=False)
        worker = asyncio.create_task(self._worker_loop())
        try:
            yield
        finally:
            worker.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(worker, *self._tasks, return_exceptions=True)
            await self._http.aclose()
            self._http = None

    def _runnable_jobs(self, now: float) -> tuple[list[Job], float | None]:
        """Due jobs not waiting behind an earlier job of the same chain; next due time."""
        runnable: list[Job] = []
        next_due: float | None = None
        busy_chains: set[str] = set()
        with self.store.reading() as store:
            for job in sorted(store.jobs, key=lambda j: j["seq"]):
                if job["chain"] in busy_chains:
                    continue
                busy_chains.add(job["chain"])
                if job["id"] in self._in_flight:
                    continue
                if job["due"] <= now:
                    runnable.append(job)
                else:
                    next_due = job["due"] if next_due is None else min(next_due, job["due"])
        return runnable, next_due

    async def _worker_loop(self) -> None:
        while True:
            self._wake.clear()
            now = time.time()
            runnable, next_due = self._runnable_jobs(now)
            for job in runnable:
                self._in_flight.add(job["id"])
                task = asyncio.create_task(self._run_job(job))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            wait = 1.0 if next_due is None else min(max(next_due - now, 0.01), 1.0)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _run_job(self, job: Job) -> None:
        try:
            if job["kind"] == "transition":
                self._apply_transition(job)
            else:
                await self._deliver_webhook(job)
        except Exception:
            # A job that crashes would otherwise be picked up again at once, forever.
            _logger.exception("dropping sandbox job %s after an error", job["id"])
            with self.store.transaction() as store:
                store.jobs = [j for j in store.jobs if j["id"] != job["id"]]
        finally:
            self._in_flight.discard(job["id"])
            self._wake.set()

    def _apply_transition(self, job: Job) -> None:
        now = time.time()
        with self.store.transaction() as store:
            store.jobs = [j for j in store.jobs if j["id"] != job["id"]]
            record = store.messages.get(job["message_sid"])
            if record is None:
                return
            step = record["lifecycle"][job["step"]]
            record["status"] = step["status"]
            record["updated"] = now
            if step["status"] == "queued" and record["from"] is None:
                record["from"] = DEFAULT_SERVICE_SENDER
            if step["status"] == "sent":
                record["sent"] = now
                record["price"] = f"-{PRICE_PER_SEGMENT_USD * record['num_segments']:.5f}"
            if "error_code" in step:
                record["error_code"] = step["error_code"]
                record["error_message"] = step["error_message"]
            self._schedule_step(store, record, job["step"] + 1, now + STATUS_STEP_SECONDS)
            if record["status_callback"]:
                self._schedule_webhook(
                    store,
                    purpose="status",
                    url=record["status_callback"],
                    params=self._status_callback_params(record),
                    message_sid=record["sid"],
                )

    def _status_callback_params(self, record: MessageRecord) -> dict[str, str]:
        params = {
            "MessageSid": record["sid"],
            "SmsSid": record["sid"],
            "MessageStatus": record["status"],
            "SmsStatus": record["status"],
            "AccountSid": record["account_sid"],
            "From": record["from"] or "",
            "To": record["to"],
            "ApiVersion": API_VERSION,
        }
        if record["messaging_service_sid"]:
            params["MessagingServiceSid"] = record["messaging_service_sid"]
        if record["error_code"] is not None:
            params["ErrorCode"] = str(record["error_code"])
        return {name: value for name, value in params.items() if value}

    async def _deliver_webhook(self, job: Job) -> None:
        assert self._http is not None, "webhooks are only delivered while the app runs"
        url, params = job["url"], job["params"]
        headers = {
            "X-Twilio-Signature": twilio_signature(self.cfg.auth_token, url, params),
            "User-Agent": "TwilioProxy/1.1",
            # Same token on every retry, as Twilio, so receivers can drop duplicates.
            "I-Twilio-Idempotency-Token": job["id"],
        }
        status_code: int | None = None
        reply_text = ""
        failure = ""
        try:
            response = await self._http.post(url, data=params, headers=headers)
            status_code = response.status_code
            reply_text = response.text
        except httpx.HTTPError as exc:
            failure = f"{type(exc).__name__}: {exc}"
        succeeded = status_code is not None and 200 <= status_code < 300
        now = time.time()
        with self.store.transaction() as store:
            stored_job = next((j for j in store.jobs if j["id"] == job["id"]), None)
            if stored_job is None:
                return
            stored_job["attempt"] += 1
            record = store.messages.get(job["message_sid"])
            if record is not None:
                record["webhook_attempts"] = [
                    *record["webhook_attempts"][-19:],
                    {
                        "purpose": job["purpose"],
                        "url": url,
                        "at": now,
                        "attempt": stored_job["attempt"],
                        "http_status": status_code,
                        "error": failure,
                        "params": params,
                    },
                ]
            if succeeded or stored_job["attempt"] >= WEBHOOK_MAX_ATTEMPTS:
                store.jobs = [j for j in store.jobs if j["id"] != job["id"]]
            else:
                stored_job["due"] = now + WEBHOOK_RETRY_DELAYS[stored_job["attempt"] - 1]
            if succeeded and job["purpose"] == "inbound" and record is not None:
                self._send_twiml_replies(store, record, reply_text)

    def _send_twiml_replies(self, store: TwilioStore, inbound: MessageRecord, twiml: str) -> None:
        """Carry out <Message> verbs the app answered an inbound text with."""
        patient, our_number = inbound["from"], inbound["to"]
        for body in twiml_reply_bodies(twiml):
            reply = self._new_outbound(
                store,
                to=patient,
                sender=our_number,
                service_sid=None,
                body=body[:MAX_BODY_CHARS],
                status_callback=None,
                direction="outbound-reply",
            )
            if patient in store.opt_outs:
                # Twilio refuses replies to an opted-out number.
                reply.update(
                    status="failed",
                    error_code=21610,
                    error_message="Attempt to send to unsubscribed recipient",
                    lifecycle=[],
                )
                store.jobs = [j for j in store.jobs if j.get("message_sid") != reply["sid"]]

    # -- local control and debug endpoints ----------------------------------------------

    async def faults_endpoint(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.fault = None
        elif request.method == "POST":
            try:
                self.fault = parse_fault(await request.json())
            except ValueError as exc:  # includes malformed JSON
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"fault": self.fault.describe() if self.fault else None})

    async def debug_messages_endpoint(self, _request: Request) -> Response:
        with self.store.reading() as store:
            messages = [
                {
                    **message_resource(record),
                    "sandbox": {
                        "status_callback": record["status_callback"],
                        "webhook_attempts": record["webhook_attempts"],
                    },
                }
                for record in newest_first(list(store.messages.values()))
            ]
            return JSONResponse(
                {
                    "messages": messages,
                    "opt_outs": store.opt_outs,
                    "pending_jobs": len(store.jobs),
                    "fault": self.fault.describe() if self.fault else None,
                }
            )


def create_routes(
    cfg: TwilioSandboxConfig,
) -> tuple[list[BaseRoute], Callable[[], AbstractAsyncContextManager[None]]]:
    """Routes of the Twilio stand-in and the lifespan that runs its background worker."""
    sandbox = TwilioSandbox(cfg)
    api = f"/{API_VERSION}/Accounts/{{account_sid}}"
    routes: list[BaseRoute] = [
        Route(f"{api}/Messages.json", sandbox.create_message_endpoint, methods=["POST"]),
        Route(f"{api}/Messages.json", sandbox.list_messages_endpoint, methods=["GET"]),
        Route(
            f"{api}/Messages/{{message_sid}}.json",
            sandbox.fetch_message_endpoint,
            methods=["GET"],
        ),
        Route(
            "/sandbox/twilio/faults",
            sandbox.faults_endpoint,
            methods=["GET", "POST", "DELETE"],
        ),
        Route("/sandbox/twilio/messages.json", sandbox.debug_messages_endpoint, methods=["GET"]),
        *twilio_outbox.outbox_routes(sandbox),
    ]
    return routes, sandbox.running
