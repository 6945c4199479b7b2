"""Payment texts: their wording, and sending them through the official `twilio` SDK.

A text carries the practice's display name, the amount, the due date and the pay
link — never a diagnosis, note content or session type.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from jotpay_app.services.money import format_cents
from jotpay_app.services.twilio_http import build_twilio_client
from jotpay_app.settings import Settings

# Twilio error codes that no retry will fix.
PERMANENT_ERRORS = {
    21211: "The mobile number is not valid.",
    21408: "Texts to this country are not enabled.",
    21610: "The patient replied STOP to payment texts. They can text START to allow them again.",
    21612: "This number cannot receive texts.",
    21614: "This number is not a mobile number.",
}

_GSM7_REPLACEMENTS = str.maketrans(
    {"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "\u00a0": " "}
)
# GSM 03.38 basic set (letters/digits plus these); anything else forces UCS-2 (70 chars).
_GSM7_EXTRA = set("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà\n\r")


class SmsError(Exception):
    """Sending failed. `permanent` errors are not retried; `code` is Twilio's."""

    def __init__(self, message: str, *, permanent: bool, code: int = 0) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


@dataclass(frozen=True)
class SentSms:
    sid: str
    status: str


def to_gsm7(text: str) -> str:
    """Keep a text in the GSM-7 alphabet so it fits 160 characters per segment."""
    text = text.translate(_GSM7_REPLACEMENTS)
    out = []
    for ch in text:
        if (ch.isascii() and (ch.isalnum() or ch in _GSM7_EXTRA)) or ch in _GSM7_EXTRA:
            out.append(ch)
            continue
        # Drop accents that GSM-7 lacks (e.g. "ō" -> "o"); drop what has no plain form.
        plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
        out.append(plain)
    return "".join(out)


def request_text(*, practice_name: str, amount_cents: int, due_date: dt.date, link: str) -> str:
    due = f"{due_date:%b} {due_date.day}"
    return to_gsm7(
        f"{practice_name}: payment request of {format_cents(amount_cents)}, due {due}. "
        f"Pay securely: {link} Reply STOP to opt out."
    )


def reminder_text(*, practice_name: str, amount_cents: int, link: str) -> str:
    return to_gsm7(
        f"{practice_name}: a reminder that {format_cents(amount_cents)} is still open. "
        f"Pay securely: {link} Reply STOP to opt out."
    )


class SmsGateway:
    """Sends texts and finds texts already sent (Twilio has no idempotency key)."""

    def __init__(self, client: Client, *, from_number: str, status_callback_url: str) -> None:
        self._client = client
        self._from = from_number
        self._status_callback_url = status_callback_url

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout: float = 10.0) -> SmsGateway:
        base = (
            "" if settings.twilio_api_base == "https://api.twilio.com" else settings.twilio_api_base
        )
        client = build_twilio_client(
            settings.twilio_account_sid or "ACmissing",
            settings.twilio_auth_token or "missing",
            base_url=base,
            timeout=timeout,
        )
        return cls(
            client,
            from_number=settings.twilio_from_number,
            status_callback_url=f"{settings.public_base_url}/api/twilio/status",
        )

    def send(self, *, to: str, body: str) -> SentSms:
        try:
            message = self._client.messages.create(
                to=to, from_=self._from, body=body, status_callback=self._status_callback_url
            )
        except TwilioRestException as exc:
            if exc.status and exc.status < 500:
                code = int(exc.code or 0)
                raise SmsError(
                    PERMANENT_ERRORS.get(code, exc.msg or "Twilio refused the text."),
                    permanent=code in PERMANENT_ERRORS or exc.status in (400, 404),
                    code=code,
                ) from exc
            raise SmsError(
                "Twilio had a problem.", permanent=False, code=int(exc.code or 0)
            ) from exc
        except (TwilioException, OSError) as exc:
            raise SmsError("Twilio did not answer in time.", permanent=False) from exc
        return SentSms(sid=str(message.sid), status=str(message.status))

    def find_sent(self, *, to: str, body: str, since: dt.datetime) -> SentSms | None:
        """The text with this body sent to `to` since `since`, if Twilio has it.

        Used before re-sending after a timeout or a crash, so a text that did go out is
        recorded instead of sent twice. Raises SmsError when the lookup itself fails.
        """
        try:
            for message in self._client.messages.list(to=to, limit=50):
                created = message.date_created
                if message.body == body and created is not None and created >= since:
                    return SentSms(sid=str(message.sid), status=str(message.status))
        except (TwilioException, OSError) as exc:
            raise SmsError("Twilio did not answer the lookup.", permanent=False) from exc
        return None
