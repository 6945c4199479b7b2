"""The Stripe stand-in's hosted pages in Chromium: Express onboarding and Checkout."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe
from playwright.sync_api import Browser, Page, expect

from tests.sandbox_stripe_helpers import StripeSandbox, WebhookReceiver

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(90),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs the system Chromium"),
]


class LandingPages:
    """Stands in for the app's return/success pages so the browser has somewhere to land."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = f"<html><body><h1>Landed on {self.path}</h1></body></html>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LandingPages:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def landing() -> Iterator[LandingPages]:
    with LandingPages() as running:
        yield running


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StripeSandbox]:
    with WebhookReceiver() as receiver:
        data_dir = tmp_path_factory.mktemp("stripe-pages") / "data"
        with StripeSandbox(data_dir, webhook_url=receiver.base_url + "/hook") as running:
            yield running


# The browser is the shared session one (tests/e2e/conftest.py): one Playwright per run.
@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # A phone-sized viewport: patients open pay links from a text message.
    context = browser.new_context(viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


def new_account(client: stripe.StripeClient) -> str:
    account = client.v1.accounts.create(
        params={
            "type": "express",
            "email": "dr.lee@example.com",
            "capabilities": {
                "card_payments": {"requested": True},
                "transfers": {"requested": True},
            },
            "business_profile": {"name": "Dr Lee Family Practice"},
        }
    )
    return account.id


def onboarding_url(client: stripe.StripeClient, account_id: str, landing: LandingPages) -> str:
    link = client.v1.account_links.create(
        params={
            "account": account_id,
            "type": "account_onboarding",
            "refresh_url": f"{landing.base_url}/connect/refresh",
            "return_url": f"{landing.base_url}/connect/return",
        }
    )
    return link.url


def test_onboarding_page_submit_lands_on_return_url(
    sandbox: StripeSandbox, landing: LandingPages, page: Page
) -> None:
    client = sandbox.client()
    account_id = new_account(client)
    page.goto(onboarding_url(client, account_id, landing))
    expect(page.get_by_role("heading", name="Set up payouts")).to_be_visible()
    expect(page.get_by_label("Routing number")).to_have_value("110000000")
    expect(page.get_by_label("Last 4 digits of SSN")).to_have_value("0000")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(f"{landing.base_url}/connect/return")
    expect(page.get_by_role("heading")).to_have_text("Landed on /connect/return")
    account = client.v1.accounts.retrieve(account_id)
    assert account.charges_enabled and account.payouts_enabled and account.details_submitted


def test_onboarding_save_and_exit_leaves_account_unfinished(
    sandbox: StripeSandbox, landing: LandingPages, page: Page
) -> None:
    client = sandbox.client()
    account_id = new_account(client)
    page.goto(onboarding_url(client, account_id, landing))
    page.get_by_role("link", name="Save and exit").click()
    page.wait_for_url(f"{landing.base_url}/connect/return")
    assert not client.v1.accounts.retrieve(account_id).charges_enabled


def test_checkout_decline_then_pay_redirects_to_success_url(
    sandbox: StripeSandbox, landing: LandingPages, page: Page
) -> None:
    client = sandbox.client()
    account_id = new_account(client)
    page.goto(onboarding_url(client, account_id, landing))
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(f"{landing.base_url}/connect/return")

    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 5000,
                        "product_data": {"name": "Telehealth consult"},
                    },
                    "quantity": 1,
                }
            ],
            "payment_intent_data": {
                "application_fee_amount": 150,
                "transfer_data": {"destination": account_id},
            },
            "success_url": f"{landing.base_url}/paid?session={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{landing.base_url}/cancelled",
        }
    )
    page.goto(session.url)
    expect(page.get_by_text("Dr Lee Family Practice")).to_be_visible()
    expect(page.get_by_role("heading", name="Telehealth consult")).to_be_visible()
    pay_button = page.get_by_role("button", name="Pay $50.00")
    expect(pay_button).to_be_visible()

    page.get_by_label("Email").fill("pat@example.com")
    page.get_by_label("Card number").fill("4000 0000 0000 0002")
    page.get_by_label("Expiration").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Name on card").fill("Pat Patient")
    page.get_by_label("ZIP").fill("94103")
    pay_button.click()
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"

    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Pay $50.00").click()
    page.wait_for_url(f"{landing.base_url}/paid?session={session.id}")
    expect(page.get_by_role("heading")).to_have_text(f"Landed on /paid?session={session.id}")
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
