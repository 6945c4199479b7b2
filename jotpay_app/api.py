"""HTTP routes outside Reflex's websocket: Stripe and Twilio webhooks, the patient's pay
link. Mounted on the Reflex backend with `rx.App(api_transformer=...)`. Open pages
learn of what these routes change through services/changes.py (see live.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlmodel import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from jotpay_app import patient_pages
from jotpay_app.services import dashboard, paylink, webhooks
from jotpay_app.services.auth import Identity, identity_for_token
from jotpay_app.services.db import get_engine
from jotpay_app.services.errors import NotFoundError
from jotpay_app.services.invoice_pdf import invoice_data, invoice_pdf
from jotpay_app.services.stripe_gateway import StripeGateway, StripeGatewayError, construct_event
from jotpay_app.settings import get_settings

log = logging.getLogger(__name__)


def _stripe() -> StripeGateway:
    return StripeGateway.from_settings(get_settings())


async def _stripe_webhook(request: Request, secret: str) -> Response:
    payload = await request.body()
    try:
        event = construct_event(payload, request.headers.get("stripe-signature", ""), secret)
    except ValueError:
        # Missing, forged or stale signature: nothing is applied.
        return JSONResponse({"error": "invalid signature"}, status_code=400)
    event_id = str(event.get("id", ""))
    outcome = await asyncio.to_thread(
        webhooks.apply_once,
        get_engine(),
        "stripe",
        event_id,
        lambda session: webhooks.apply_stripe_event(session, event),
    )
    log.info("stripe event %s %s: %s", event.get("type"), event_id, outcome)
    return JSONResponse({"received": True, "outcome": outcome})


async def stripe_webhook(request: Request) -> Response:
    return await _stripe_webhook(request, get_settings().stripe_webhook_secret)


async def stripe_connect_webhook(request: Request) -> Response:
    settings = get_settings()
    return await _stripe_webhook(
        request, settings.stripe_connect_webhook_secret or settings.stripe_webhook_secret
    )


async def _verified_twilio_params(request: Request) -> dict[str, str] | None:
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    signature = request.headers.get("x-twilio-signature", "")
    validator = RequestValidator(get_settings().twilio_auth_token)
    # Behind a proxy the URL Twilio signed is the public one; locally it is the one hit.
    candidates = {str(request.url), f"{get_settings().public_base_url}{request.url.path}"}
    if any(validator.validate(url, params, signature) for url in candidates):
        return params
    return None


async def twilio_status(request: Request) -> Response:
    params = await _verified_twilio_params(request)
    if params is None:
        return Response("invalid signature", status_code=403)
    event_id = request.headers.get("i-twilio-idempotency-token") or (
        f"{params.get('MessageSid')}:{params.get('MessageStatus')}"
    )
    await asyncio.to_thread(
        webhooks.apply_once,
        get_engine(),
        "twilio",
        event_id,
        lambda session: webhooks.apply_twilio_status(session, params),
    )
    return Response(status_code=204)


async def twilio_inbound(request: Request) -> Response:
    params = await _verified_twilio_params(request)
    if params is None:
        return Response("invalid signature", status_code=403)
    await asyncio.to_thread(
        webhooks.apply_once,
        get_engine(),
        "twilio",
        f"inbound:{params.get('MessageSid', '')}",
        lambda session: webhooks.apply_inbound_sms(session, params),
    )
    # Empty TwiML: Twilio's own STOP/START replies are enough.
    return Response(
        "<?xml version='1.0' encoding='UTF-8'?><Response></Response>", media_type="text/xml"
    )


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        body,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
        },
    )


def _open_link(token: str) -> paylink.PayLinkOutcome:
    settings = get_settings()
    with Session(get_engine(), expire_on_commit=False) as session:
        outcome = paylink.open_link(
            session, token, _stripe(), public_base_url=settings.public_base_url
        )
        session.commit()
        return outcome


async def pay(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        outcome = await asyncio.to_thread(_open_link, token)
    except StripeGatewayError:
        return _html(patient_pages.unavailable_page("your provider"), 503)
    if outcome.kind == "checkout":
        return RedirectResponse(outcome.url, status_code=303)
    if outcome.kind == "paid" and outcome.receipt:
        return _html(patient_pages.receipt_page(outcome.receipt, just_paid=False))
    if outcome.kind == "invalid":
        return _html(patient_pages.invalid_page(outcome.practice), 410)
    if outcome.kind == "unavailable":
        return _html(patient_pages.unavailable_page(outcome.practice), 503)
    return _html(patient_pages.not_found_page(), 404)


def _confirm(token: str, session_id: str) -> paylink.PayLinkOutcome:
    with Session(get_engine(), expire_on_commit=False) as session:
        outcome = paylink.confirm_from_checkout(session, token, session_id, _stripe())
        session.commit()
        return outcome


async def pay_thanks(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        outcome = await asyncio.to_thread(
            _confirm, token, request.query_params.get("session_id", "")
        )
    except StripeGatewayError:
        return _html(patient_pages.processing_page())
    if outcome.kind == "paid" and outcome.receipt:
        return _html(patient_pages.receipt_page(outcome.receipt, just_paid=True))
    if outcome.kind == "not_found":
        return _html(patient_pages.not_found_page(), 404)
    return _html(patient_pages.processing_page())


async def pay_canceled(request: Request) -> Response:
    token = request.path_params["token"]
    return _html(
        patient_pages.canceled_checkout_page(f"{get_settings().public_base_url}/pay/{token}")
    )


def _identity(request: Request) -> Identity | None:
    """The logged-in clinician, from the same session cookie the app uses."""
    token = request.cookies.get("jotpay_session", "")
    with Session(get_engine()) as session:
        return identity_for_token(session, token)


def _invoice_pdf(request: Request) -> Response:
    who = _identity(request)
    if who is None:
        return Response("Log in to download invoices.", status_code=401)
    raw = request.path_params["request_id"]
    try:
        with Session(get_engine()) as session:
            data = invoice_data(session, who, int(raw))
    except (NotFoundError, ValueError):
        return Response("Not found", status_code=404)
    return Response(
        invoice_pdf(data),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{data.filename}"',
            "Cache-Control": "no-store",
        },
    )


async def invoice_pdf_route(request: Request) -> Response:
    return await asyncio.to_thread(_invoice_pdf, request)


def _csv(request: Request) -> Response:
    who = _identity(request)
    if who is None:
        return Response("Log in to export.", status_code=401)
    params = request.query_params
    status = params.get("status", "all")

    def day(name: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(params.get(name, "")) if params.get(name) else None
        except ValueError:
            return None

    query = dashboard.RequestQuery(
        clinician_id=who.clinician_id,
        tz=who.practice_timezone,
        sort=params.get("sort", "sent"),
        direction=params.get("direction", "desc"),
        statuses=() if status in ("", "all") else (status,),
        start=day("start"),
        end=day("end"),
        search=params.get("search", ""),
    )
    try:
        with Session(get_engine()) as session:
            body = dashboard.export_csv(session, query)
    except dashboard.QueryError as exc:
        return Response(str(exc), status_code=400)
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{dashboard.export_filename(query)}"',
            "Cache-Control": "no-store",
        },
    )


async def csv_route(request: Request) -> Response:
    return await asyncio.to_thread(_csv, request)


def create_api() -> Starlette:
    return Starlette(
        routes=[
            Route("/api/stripe/webhook", stripe_webhook, methods=["POST"]),
            Route("/api/stripe/connect-webhook", stripe_connect_webhook, methods=["POST"]),
            Route("/api/twilio/status", twilio_status, methods=["POST"]),
            Route("/api/twilio/inbound", twilio_inbound, methods=["POST"]),
            Route("/pay/{token}", pay, methods=["GET"]),
            Route("/pay/{token}/thanks", pay_thanks, methods=["GET"]),
            Route("/pay/{token}/canceled", pay_canceled, methods=["GET"]),
            Route("/api/invoices/{request_id}.pdf", invoice_pdf_route, methods=["GET"]),
            Route("/api/requests.csv", csv_route, methods=["GET"]),
        ]
    )
