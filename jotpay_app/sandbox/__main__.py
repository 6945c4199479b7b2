"""Run the local Stripe + Twilio stand-in: `python -m jotpay_app.sandbox --port 12111`."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Route

from jotpay_app.sandbox import stripe_api, twilio_api


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m jotpay_app.sandbox",
        description="Local stand-in for Stripe's and Twilio's HTTP APIs (test mode only).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--data", default="./data/sandbox", help="folder keeping the state")
    parser.add_argument(
        "--public-url", default="", help="base URL browsers use (default http://HOST:PORT)"
    )
    # Stripe
    parser.add_argument("--stripe-key", default="", help="the only secret key accepted")
    parser.add_argument("--webhook-url", default="")
    parser.add_argument("--webhook-secret", default="")
    parser.add_argument("--connect-webhook-url", default="")
    parser.add_argument("--connect-webhook-secret", default="")
    # Twilio
    parser.add_argument("--twilio-sid", default="")
    parser.add_argument("--twilio-token", default="")
    parser.add_argument("--twilio-webhook-url", default="", help="where inbound texts are POSTed")
    return parser.parse_args(argv)


def build_app(args: argparse.Namespace) -> Starlette:
    data_dir = Path(args.data).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    public_url = (args.public_url or f"http://{args.host}:{args.port}").rstrip("/")
    stripe_cfg = stripe_api.StripeSandboxConfig(
        secret_key=args.stripe_key,
        data_file=data_dir / "stripe.json",
        public_url=public_url,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        connect_webhook_url=args.connect_webhook_url,
        connect_webhook_secret=args.connect_webhook_secret,
    )
    twilio_cfg = twilio_api.TwilioSandboxConfig(
        account_sid=args.twilio_sid,
        auth_token=args.twilio_token,
        data_file=data_dir / "twilio.json",
        public_url=public_url,
        inbound_webhook_url=args.twilio_webhook_url,
    )
    stripe_routes, stripe_lifespan = stripe_api.create_routes(stripe_cfg)
    twilio_routes, twilio_lifespan = twilio_api.create_routes(twilio_cfg)

    async def index(_request):
        return RedirectResponse("/sandbox/outbox")

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_app):
        async with stripe_lifespan(), twilio_lifespan():
            yield

    return Starlette(
        routes=[Route("/", index), *stripe_routes, *twilio_routes],
        lifespan=lifespan,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.stripe_key:
        args.stripe_key = "sk_test_sandbox_" + secrets.token_hex(12)
    if not args.twilio_sid:
        args.twilio_sid = "AC" + secrets.token_hex(16)
    if not args.twilio_token:
        args.twilio_token = secrets.token_hex(16)
    app = build_app(args)
    base = f"http://{args.host}:{args.port}"
    print(f"sandbox base URL: {base}", flush=True)
    print(f"stripe secret key: {args.stripe_key}", flush=True)
    print(f"twilio account sid: {args.twilio_sid}", flush=True)
    print(f"twilio auth token: {args.twilio_token}", flush=True)
    sys.stdout.flush()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
