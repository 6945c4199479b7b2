"""The sandbox "phone": pages showing the texts each number received, with a reply box.

`/sandbox/outbox` lists every number that received texts; `/sandbox/outbox/{number}`
(number URL-encoded, e.g. %2B15551234567) shows that number's conversation newest
first, links clickable, and lets you text back as the patient.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from jotpay_app.sandbox.twilio_store import MessageRecord, newest_first

if TYPE_CHECKING:
    from jotpay_app.sandbox.twilio_api import TwilioSandbox

URL_PATTERN = re.compile(r"https?://[^\s<>\"']+")
# Punctuation right after a link usually ends the sentence, not the URL.
TRAILING_PUNCTUATION = ".,;:!?)]}"

PAGE_STYLE = """
* { box-sizing: border-box; }
body { margin: 0; background: #e9edf2; font: 16px/1.4 system-ui, sans-serif; color: #111; }
.phone { max-width: 420px; margin: 0 auto; min-height: 100vh; background: #fff;
  display: flex; flex-direction: column; box-shadow: 0 0 12px rgba(0,0,0,.12); }
header { background: #1f6feb; color: #fff; padding: 12px 16px; }
header a { color: #fff; }
header h1 { font-size: 18px; margin: 4px 0 0; }
.banner { padding: 8px 16px; font-size: 14px; }
.banner.opted-out { background: #ffe3e3; color: #8a1111; }
.banner.opted-in { background: #e6f6ea; color: #135c26; }
ul { list-style: none; margin: 0; padding: 12px; flex: 1; }
.message { max-width: 85%; margin: 0 0 12px; padding: 8px 12px; border-radius: 16px;
  word-wrap: break-word; }
.message.received-by-phone { background: #f0f1f3; border-bottom-left-radius: 4px; }
.message.sent-by-phone { background: #1f6feb; color: #fff; margin-left: auto;
  border-bottom-right-radius: 4px; }
.message.sent-by-phone a { color: #fff; }
.meta { display: block; font-size: 12px; opacity: .75; margin-top: 4px; }
.error { color: #b00020; }
.numbers li { padding: 10px 4px; border-bottom: 1px solid #eee; }
form { display: flex; flex-wrap: wrap; gap: 8px; padding: 12px; border-top: 1px solid #ddd; }
form label { width: 100%; font-size: 14px; }
form input { flex: 1; padding: 8px 12px; border: 1px solid #bbb; border-radius: 18px; }
form select { width: 100%; }
form button { padding: 8px 14px; border: 0; border-radius: 18px; background: #1f6feb;
  color: #fff; }
"""

# Refresh the conversation while statuses change, but never under the user's typing.
REFRESH_SCRIPT = """
setInterval(async () => {
  const box = document.getElementById('reply-body');
  if (box && (box.value || document.activeElement === box)) return;
  const page = await fetch(location.href, {cache: 'no-store'});
  if (!page.ok) return;
  const doc = new DOMParser().parseFromString(await page.text(), 'text/html');
  for (const id of ['message-list', 'opt-out-state']) {
    const fresh = doc.getElementById(id), old = document.getElementById(id);
    if (fresh && old) old.replaceWith(fresh);
  }
}, 2000);
"""


def number_path(number: str) -> str:
    return "/sandbox/outbox/" + quote(number, safe="")


def linkify(body: str) -> str:
    """Escape `body` and turn each http(s) URL into a clickable link."""
    parts: list[str] = []
    position = 0
    for match in URL_PATTERN.finditer(body):
        url = match.group(0).rstrip(TRAILING_PUNCTUATION)
        end = match.start() + len(url)
        parts.append(html.escape(body[position : match.start()]))
        parts.append(
            f'<a class="message-link" href="{html.escape(url, quote=True)}">{html.escape(url)}</a>'
        )
        position = end
    parts.append(html.escape(body[position:]))
    return "".join(parts).replace("\n", "<br>")


def format_time(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%d %b %Y %H:%M:%S UTC")


def page(title: str, content: str, *, refresh: bool = False) -> HTMLResponse:
    script = f"<script>{REFRESH_SCRIPT}</script>" if refresh else ""
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>"
        f"<body><div class='phone'>{content}</div>{script}</body></html>"
    )


def message_item(record: MessageRecord, phone_number: str) -> str:
    received = record["to"] == phone_number
    css = "received-by-phone" if received else "sent-by-phone"
    who = f"from {record['from'] or 'Messaging Service'}" if received else f"to {record['to']}"
    error = ""
    if record["error_code"] is not None:
        error = (
            f" <span class='error'>error {record['error_code']}: "
            f"{html.escape(record['error_message'] or '')}</span>"
        )
    webhook = ""
    if record["direction"] == "inbound" and record["webhook_attempts"]:
        last = record["webhook_attempts"][-1]
        outcome = last["http_status"] or last["error"] or "no answer"
        webhook = f" · webhook: {html.escape(str(outcome))}"
    return (
        f"<li class='message {css}' id='message-{record['sid']}' "
        f"data-status='{record['status']}'>"
        f"<span class='body'>{linkify(record['body'])}</span>"
        f"<span class='meta'>{html.escape(who)} · {format_time(record['created'])} · "
        f"<span class='status'>{html.escape(record['status'])}</span>{error}{webhook}</span>"
        "</li>"
    )


def outbox_routes(sandbox: TwilioSandbox) -> list[BaseRoute]:
    store = sandbox.store

    def conversation(number: str) -> list[MessageRecord]:
        with store.reading():
            records = [
                record
                for record in store.messages.values()
                if record["account_sid"] == sandbox.cfg.account_sid
                and number in (record["to"], record["from"])
            ]
        return newest_first(records)

    async def index(_request: Request) -> Response:
        numbers: dict[str, dict[str, Any]] = {}
        with store.reading():
            for record in store.messages.values():
                if record["direction"] == "inbound":
                    continue
                entry = numbers.setdefault(record["to"], {"count": 0, "last": 0.0})
                entry["count"] += 1
                entry["last"] = max(entry["last"], record["created"])
            opted_out = set(store.opt_outs)
        rows = [
            f"<li id='number-{number.lstrip('+')}'>"
            f"<a href='{html.escape(number_path(number))}'>{html.escape(number)}</a> · "
            f"<span class='count'>{entry['count']}</span> text(s) · last "
            f"{format_time(entry['last'])}"
            f"{' · <strong>opted out</strong>' if number in opted_out else ''}</li>"
            for number, entry in sorted(numbers.items(), key=lambda kv: -kv[1]["last"])
        ]
        empty = "<li>No texts sent yet.</li>" if not rows else ""
        return page(
            "Sandbox phone outbox",
            "<header><h1>Sandbox phone outbox</h1></header>"
            f"<ul class='numbers' id='number-list'>{''.join(rows)}{empty}</ul>",
        )

    async def number_page(request: Request) -> Response:
        number = request.path_params["number"]
        records = conversation(number)
        with store.reading():
            opt_out = store.opt_outs.get(number)
        # Numbers this phone received texts from, most recent first: where replies go.
        our_numbers = list(
            dict.fromkeys(r["from"] for r in records if r["to"] == number and r["from"])
        )
        if not our_numbers:
            our_numbers = [sandbox.default_service_sender]
        if opt_out:
            banner = (
                "<div class='banner opted-out' id='opt-out-state' data-opted-out='true'>"
                f"Opted out (replied {html.escape(opt_out['keyword'])}): new texts are refused "
                "with error 21610 until this phone replies START.</div>"
            )
        else:
            banner = (
                "<div class='banner opted-in' id='opt-out-state' data-opted-out='false'>"
                "Receiving texts.</div>"
            )
        items = "".join(message_item(record, number) for record in records)
        empty = "<li>No texts for this number.</li>" if not records else ""
        options = "".join(
            f"<option value='{html.escape(n)}'>{html.escape(n)}</option>" for n in our_numbers
        )
        form = (
            f"<form method='post' action='{html.escape(number_path(number))}/reply' "
            "id='reply-form'>"
            "<label for='reply-body'>Reply</label>"
            f"<select name='To' id='reply-to' aria-label='Reply to'>{options}</select>"
            "<input id='reply-body' name='Body' autocomplete='off' required>"
            "<button type='submit' id='send-reply'>Send reply</button></form>"
        )
        return page(
            f"Texts to {number}",
            "<header><a href='/sandbox/outbox'>&larr; All numbers</a>"
            f"<h1 id='phone-number'>{html.escape(number)}</h1></header>"
            f"{banner}<ul id='message-list'>{items}{empty}</ul>{form}",
            refresh=True,
        )

    async def reply(request: Request) -> Response:
        number = request.path_params["number"]
        form = await request.form()
        body = str(form.get("Body", ""))
        our_number = str(form.get("To", "")).strip()
        if not body.strip() or not our_number:
            return HTMLResponse("Body and To are required", status_code=400)
        try:
            sandbox.record_inbound(patient=number, our_number=our_number, body=body)
        except ValueError as exc:
            return HTMLResponse(html.escape(str(exc)), status_code=400)
        return RedirectResponse(number_path(number), status_code=303)

    return [
        Route("/sandbox/outbox", index, methods=["GET"]),
        Route("/sandbox/outbox/{number}", number_page, methods=["GET"]),
        Route("/sandbox/outbox/{number}/reply", reply, methods=["POST"]),
    ]
