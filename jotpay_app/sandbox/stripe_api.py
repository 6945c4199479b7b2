"""Local stand-in for the part of Stripe's HTTP API JotPay uses (Connect Express, Checkout,
PaymentIntents, refunds, events and signed webhooks), for the official `stripe` SDK.

`create_routes(cfg)` gives the Starlette routes and a lifespan that runs webhook delivery.
Every /v1 request goes through one dispatcher that applies, in Stripe's order: fault
injection, API-key check, `Stripe-Account` scoping, idempotency, then the endpoint itself
inside a store transaction. See docs/sandbox.md for the surface and the fault API.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from jotpay_app.sandbox.stripe_errors import (
    StripeError,
    api_error,
    authentication_error,
    idempotency_error,
    invalid_request,
    permission_error,
)
from jotpay_app.sandbox.stripe_forms import Params, decode_form
from jotpay_app.sandbox.stripe_ledger import RequestContext, StripeLedger
from jotpay_app.sandbox.stripe_objects import API_VERSION
from jotpay_app.sandbox.stripe_pages import StripePages
from jotpay_app.sandbox.stripe_store import StripeStore, random_token
from jotpay_app.sandbox.stripe_webhooks import (
    RetryPolicy,
    WebhookDispatcher,
    WebhookEndpoint,
)

IDEMPOTENCY_TTL = 24 * 3600  # Stripe keeps idempotent results for 24 hours
SWEEP_SECONDS = 1.0


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass
class StripeSandboxConfig:
    secret_key: str
    data_file: Path
    public_url: str
    webhook_url: str = ""
    webhook_secret: str = ""
    connect_webhook_url: str = ""
    connect_webhook_secret: str = ""
    # Webhook retries: base * 2**(attempt-1) seconds, capped. Tests shorten them through the
    # environment because the command line is shared with the Twilio stand-in.
    webhook_retry_base_seconds: float = field(
        default_factory=lambda: _env_float("STRIPE_SANDBOX_WEBHOOK_RETRY_BASE", 1.0)
    )
    webhook_retry_cap_seconds: float = field(
        default_factory=lambda: _env_float("STRIPE_SANDBOX_WEBHOOK_RETRY_CAP", 60.0)
    )
    webhook_max_attempts: int = field(
        default_factory=lambda: _env_int("STRIPE_SANDBOX_WEBHOOK_MAX_ATTEMPTS", 8)
    )
    webhook_timeout_seconds: float = field(
        default_factory=lambda: _env_float("STRIPE_SANDBOX_WEBHOOK_TIMEOUT", 10.0)
    )


@dataclass
class ApiFault:
    """Next `remaining` /v1 calls (optionally only under `path`) fail or hang."""

    mode: str  # "error" | "hang"
    remaining: int
    seconds: float = 0.0
    path: str = "/v1/"

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "remaining": self.remaining,
            "seconds": self.seconds,
            "path": self.path,
        }


Handler = Callable[..., dict[str, Any] | StripeError]


@dataclass(frozen=True)
class ApiRoute:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class StripeApi:
    def __init__(self, cfg: StripeSandboxConfig) -> None:
        self.cfg = cfg
        self.store = StripeStore(cfg.data_file)
        endpoints: dict[str, WebhookEndpoint] = {}
        if cfg.webhook_url:
            endpoints["platform"] = WebhookEndpoint(cfg.webhook_url, cfg.webhook_secret)
        if cfg.connect_webhook_url:
            endpoints["connect"] = WebhookEndpoint(
                cfg.connect_webhook_url, cfg.connect_webhook_secret
            )
        self.webhooks = WebhookDispatcher(
            store=self.store,
            endpoints=endpoints,
            policy=RetryPolicy(
                base_seconds=cfg.webhook_retry_base_seconds,
                cap_seconds=cfg.webhook_retry_cap_seconds,
                max_attempts=cfg.webhook_max_attempts,
                timeout_seconds=cfg.webhook_timeout_seconds,
            ),
        )
        self.ledger = StripeLedger(self.store, self.webhooks, cfg.public_url)
        self.pages = StripePages(self.ledger)
        self.api_fault: ApiFault | None = None
        self.api_routes = self._api_routes()

    # -- the /v1 surface ----------------------------------------------------------------------
    def _api_routes(self) -> list[ApiRoute]:
        ledger = self.ledger

        def retrieve(kind: str) -> Handler:
            def handler(ctx: RequestContext, params: Params, object_id: str) -> dict[str, Any]:
                return ledger.retrieve_any(ctx, kind, object_id)

            return handler

        table: list[tuple[str, str, Handler]] = [
            ("POST", r"/v1/accounts", ledger.create_account),
            ("GET", r"/v1/accounts", ledger.list_accounts),
            ("GET", r"/v1/accounts/(?P<object_id>[^/]+)", retrieve("account")),
            ("POST", r"/v1/accounts/(?P<account_id>[^/]+)", ledger.update_account),
            (
                "POST",
                r"/v1/accounts/(?P<account_id>[^/]+)/login_links",
                ledger.create_login_link,
            ),
            ("POST", r"/v1/account_links", ledger.create_account_link),
            ("POST", r"/v1/checkout/sessions", ledger.create_checkout_session),
            ("GET", r"/v1/checkout/sessions", ledger.list_checkout_sessions),
            (
                "GET",
                r"/v1/checkout/sessions/(?P<object_id>[^/]+)",
                retrieve("checkout.session"),
            ),
            (
                "POST",
                r"/v1/checkout/sessions/(?P<session_id>[^/]+)/expire",
                ledger.expire_checkout_session,
            ),
            (
                "GET",
                r"/v1/checkout/sessions/(?P<session_id>[^/]+)/line_items",
                ledger.list_line_items,
            ),
            ("POST", r"/v1/payment_intents", ledger.create_payment_intent),
            ("GET", r"/v1/payment_intents", ledger.list_payment_intents),
            ("GET", r"/v1/payment_intents/(?P<object_id>[^/]+)", retrieve("payment_intent")),
            (
                "POST",
                r"/v1/payment_intents/(?P<intent_id>[^/]+)/confirm",
                ledger.confirm_payment_intent,
            ),
            ("GET", r"/v1/charges", ledger.list_charges),
            ("GET", r"/v1/charges/(?P<object_id>[^/]+)", retrieve("charge")),
            ("POST", r"/v1/refunds", ledger.create_refund),
            ("GET", r"/v1/refunds", ledger.list_refunds),
            ("GET", r"/v1/refunds/(?P<object_id>[^/]+)", retrieve("refund")),
            ("GET", r"/v1/events", ledger.list_events),
            ("GET", r"/v1/events/(?P<object_id>[^/]+)", retrieve("event")),
            ("GET", r"/v1/transfers/(?P<object_id>[^/]+)", retrieve("transfer")),
            ("GET", r"/v1/application_fees/(?P<object_id>[^/]+)", retrieve("application_fee")),
            ("GET", r"/v1/balance", lambda ctx, params: ledger.balance(ctx)),
            ("GET", r"/v1/balance_transactions", ledger.list_balance_transactions),
            (
                "GET",
                r"/v1/balance_transactions/(?P<object_id>[^/]+)",
                retrieve("balance_transaction"),
            ),
        ]
        return [
            ApiRoute(method, re.compile(pattern + r"/?$"), handler)
            for method, pattern, handler in table
        ]

    async def handle_v1(self, request: Request) -> Response:
        request_id = "req_" + random_token(14)
        version = request.headers.get("stripe-version") or API_VERSION
        headers = {"Request-Id": request_id, "Stripe-Version": version}
        try:
            await self._apply_api_fault(request.url.path)
            return await self._dispatch(request, request_id, headers)
        except StripeError as error:
            return _json(error.to_body(), error.status, headers)

    async def _apply_api_fault(self, path: str) -> None:
        fault = self.api_fault
        if fault is None or not path.startswith(fault.path):
            return
        fault.remaining -= 1
        if fault.remaining <= 0:
            self.api_fault = None
        if fault.mode == "error":
            raise api_error("An unexpected error occurred (injected by the sandbox fault API).")
        # "hang": answer late but still do the work, as a slow Stripe would.
        await asyncio.sleep(fault.seconds)

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        key = ""
        if header.lower().startswith("bearer "):
            key = header[7:].strip()
        elif header.lower().startswith("basic "):
            try:
                key = base64.b64decode(header[6:]).decode().split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                key = ""
        if not key:
            raise authentication_error(
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details."
            )
        if not hmac.compare_digest(key.encode(), self.cfg.secret_key.encode()):
            raise authentication_error(f"Invalid API Key provided: {_mask_key(key)}")

    async def _dispatch(
        self, request: Request, request_id: str, headers: dict[str, str]
    ) -> Response:
        self._authenticate(request)
        method, path = request.method.upper(), request.url.path
        route, path_args = self._match(method, path)
        pairs = parse_qsl(request.url.query, keep_blank_values=True)
        if method == "POST":
            body = (await request.body()).decode("utf-8", errors="replace")
            pairs += parse_qsl(body, keep_blank_values=True)
        params = Params(decode_form(pairs))
        expand = params.strings("expand")
        account = request.headers.get("stripe-account") or None
        idempotency_key = request.headers.get("idempotency-key") if method == "POST" else None
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
            if len(idempotency_key) > 255:
                raise invalid_request(
                    "Idempotency-Key must be at most 255 characters long.",
                    param="Idempotency-Key",
                )
        ctx = RequestContext(
            account=account, request_id=request_id, idempotency_key=idempotency_key
        )
        fingerprint = hashlib.sha256(
            json.dumps([method, path, decode_form(pairs)], sort_keys=True).encode()
        ).hexdigest()

        with self.store.transaction() as state:
            if account is not None:
                acct = self.store.get(account)
                if acct is None or acct.get("object") != "account":
                    raise permission_error(
                        f"The provided key '{_mask_key(self.cfg.secret_key)}' does not have "
                        f"access to account '{account}' (or that account does not exist). "
                        "Application access may have been revoked.",
                        code="account_invalid",
                    )
            scope = ""
            if idempotency_key is not None:
                scope = self._idempotency_scope(account, idempotency_key)
                stored = state["idempotency"].get(scope)
                if stored is not None and stored["expires_at"] > self.store.now():
                    return self._replay(stored, idempotency_key, method, path, fingerprint, headers)
            result = route.handler(ctx, params, **path_args)
            params.finish()
            if isinstance(result, StripeError):
                # A decline is kept (the failed attempt exists), so it is also replayable.
                status, body = result.status, result.to_body()
            else:
                status, body = 200, self.ledger.expand(ctx, result, expand) if expand else result
            if scope:
                self._remember(scope, method, path, fingerprint, status, body, request_id)
        return _json(body, status, headers)

    def _match(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]]:
        for route in self.api_routes:
            match = route.pattern.match(path)
            if match and route.method == method:
                return route, match.groupdict()
        raise invalid_request(
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
            status=404,
        )

    # -- idempotency --------------------------------------------------------------------------
    def _idempotency_scope(self, account: str | None, key: str) -> str:
        key_hash = hashlib.sha256(self.cfg.secret_key.encode()).hexdigest()[:16]
        return f"{key_hash}|{account or ''}|{key}"

    def _replay(
        self,
        stored: dict[str, Any],
        key: str,
        method: str,
        path: str,
        fingerprint: str,
        headers: dict[str, str],
    ) -> Response:
        if stored["endpoint"] != f"{method} {path}":
            raise idempotency_error(
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{stored['endpoint']}' vs '{method} {path}'). Try using a key "
                f"other than '{key}' if you meant to execute a different request."
            )
        if stored["fingerprint"] != fingerprint:
            raise idempotency_error(
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request."
            )
        headers["Idempotent-Replayed"] = "true"
        headers["Original-Request"] = stored["request_id"]
        return _json(stored["body"], stored["status"], headers)

    def _remember(
        self,
        scope: str,
        method: str,
        path: str,
        fingerprint: str,
        status: int,
        body: dict[str, Any],
        request_id: str,
    ) -> None:
        now = self.store.now()
        records = self.store.state["idempotency"]
        for old_scope in [s for s, r in records.items() if r["expires_at"] <= now]:
            del records[old_scope]
        records[scope] = {
            "endpoint": f"{method} {path}",
            "fingerprint": fingerprint,
            "status": status,
            "body": body,
            "request_id": request_id,
            "expires_at": now + IDEMPOTENCY_TTL,
        }
        self.store.mark_dirty()

    # -- local control endpoints (no Stripe auth; loopback clients only) -------------------------
    async def faults(self, request: Request) -> Response:
        if (refused := _refuse_remote(request)) is not None:
            return refused
        if request.method == "DELETE":
            self.api_fault = None
            self.webhooks.clear_faults()
            return JSONResponse(self._fault_summary())
        if request.method == "POST":
            try:
                spec = json.loads(await request.body() or b"{}")
                if not isinstance(spec, dict) or not ({"mode", "webhooks"} & spec.keys()):
                    raise ValueError('send {"mode": ...} and/or {"webhooks": ...}')
                if "mode" in spec:
                    self.api_fault = _parse_api_fault(spec)
                if "webhooks" in spec:
                    self.webhooks.set_fault(spec)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(self._fault_summary())

    def _fault_summary(self) -> dict[str, Any]:
        return {
            "api": self.api_fault.describe() if self.api_fault else None,
            "webhooks": self.webhooks.faults.describe(),
        }

    async def clock(self, request: Request) -> Response:
        if (refused := _refuse_remote(request)) is not None:
            return refused
        if request.method == "POST":
            try:
                spec = json.loads(await request.body() or b"{}")
                seconds = spec.get("advance_seconds")
                if not isinstance(seconds, int) or seconds < 0:
                    raise ValueError("advance_seconds must be a non-negative integer")
            except (ValueError, AttributeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            with self.store.transaction():
                self.store.advance_clock(seconds)
                self.ledger.expire_overdue_sessions()
        with self.store.transaction() as state:
            return JSONResponse({"now": self.store.now(), "offset": state["clock_offset"]})

    async def state_summary(self, request: Request) -> Response:
        if (refused := _refuse_remote(request)) is not None:
            return refused
        with self.store.transaction() as state:
            counts: dict[str, int] = {}
            for obj in state["objects"].values():
                counts[obj["object"]] = counts.get(obj["object"], 0) + 1
            summary = {
                "now": self.store.now(),
                "clock_offset": state["clock_offset"],
                "api_version": API_VERSION,
                "data_file": str(self.cfg.data_file),
                "webhook_endpoints": {
                    name: endpoint.url for name, endpoint in self.webhooks.endpoints.items()
                },
                "object_counts": counts,
                "accounts": [
                    {
                        "id": a["id"],
                        "email": a["email"],
                        "charges_enabled": a["charges_enabled"],
                        "details_submitted": a["details_submitted"],
                    }
                    for a in self.store.objects_of("account", None)
                ],
                "balances": {
                    "platform": self.ledger.balance_by_currency(None),
                    **{
                        a["id"]: self.ledger.balance_by_currency(a["id"])
                        for a in self.store.objects_of("account", None)
                    },
                },
                "pending_deliveries": list(state["deliveries"]),
                "recent_deliveries": state["delivery_log"][-50:],
                "faults": self._fault_summary(),
            }
        return JSONResponse(summary)

    # -- wiring -------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route(
                "/v1/{path:path}",
                self.handle_v1,
                methods=["GET", "POST", "DELETE", "PUT", "PATCH"],
            ),
            Route("/sandbox/stripe/faults", self.faults, methods=["GET", "POST", "DELETE"]),
            Route("/sandbox/stripe/clock", self.clock, methods=["GET", "POST"]),
            Route("/sandbox/stripe/state", self.state_summary, methods=["GET"]),
            *self.pages.routes(),
        ]

    async def _sweep_expired_sessions(self) -> None:
        # Stripe expires abandoned sessions (and sends checkout.session.expired) on its own.
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            with self.store.transaction():
                self.ledger.expire_overdue_sessions()

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(self._sweep_expired_sessions(), name="stripe-sandbox-sweep")
        try:
            async with self.webhooks.running():
                yield
        finally:
            sweeper.cancel()
            with suppress(asyncio.CancelledError):
                await sweeper


def create_routes(
    cfg: StripeSandboxConfig,
) -> tuple[list[BaseRoute], Callable[[], AbstractAsyncContextManager[None]]]:
    """Routes for the Stripe stand-in and a zero-argument lifespan (async context manager)."""
    api = StripeApi(cfg)
    return api.routes(), api.lifespan


def _parse_api_fault(spec: dict[str, Any]) -> ApiFault:
    mode = spec["mode"]
    count = spec.get("count", 1)
    path = spec.get("path", "/v1/")
    if mode not in ("error", "hang"):
        raise ValueError("mode must be error or hang")
    if not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    if not isinstance(path, str) or not path.startswith("/v1"):
        raise ValueError("path must start with /v1")
    seconds = 0.0
    if mode == "hang":
        seconds = spec.get("seconds")
        if not isinstance(seconds, int | float) or not 0 < seconds <= 600:
            raise ValueError("mode=hang needs 0 < seconds <= 600")
    return ApiFault(mode=mode, remaining=count, seconds=float(seconds), path=path)


def _refuse_remote(request: Request) -> Response | None:
    """The control endpoints have no auth, so only loopback clients may use them."""
    host = request.client.host if request.client else ""
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = host in ("localhost", "testclient")
    if local:
        return None
    return JSONResponse({"error": "sandbox control is local only"}, status_code=403)


def _mask_key(key: str) -> str:
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def _json(body: dict[str, Any], status: int, headers: dict[str, str]) -> Response:
    return Response(
        json.dumps(body, indent=2),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )
