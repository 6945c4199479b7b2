"""The patient's pages (no login, no JavaScript needed): plain, mobile-friendly HTML.

They show only what a patient needs: the practice, the amount, a receipt. Nothing
clinical, and for an unknown link nothing at all.
"""

from __future__ import annotations

from html import escape

from jotpay_app.services.paylink import Receipt

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f6f8fa;
margin:0;color:#1c2024}main{max-width:440px;margin:8vh auto;background:#fff;border-radius:14px;
padding:28px 24px;box-shadow:0 1px 3px rgba(0,0,0,.08)}h1{font-size:1.35rem;margin:0 0 .5rem}
p{line-height:1.5;color:#444}dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1rem;
margin:1.25rem 0}dt{color:#666}dd{margin:0;font-weight:600}.ok{color:#18794e}
a.button{display:inline-block;background:#0d9488;color:#fff;padding:.7rem 1.2rem;
border-radius:8px;text-decoration:none;font-weight:600}
"""


def page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        "<meta name='robots' content='noindex'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def receipt_page(receipt: Receipt, *, just_paid: bool) -> str:
    heading = "Thank you — payment received" if just_paid else "This request is already paid"
    return page(
        "Payment received",
        f"<h1 class='ok' id='thanks'>{escape(heading)}</h1>"
        f"<p>Your payment to {escape(receipt.practice)} is complete. Keep this receipt "
        "for your records.</p>"
        "<dl id='receipt'>"
        f"<dt>Paid to</dt><dd>{escape(receipt.practice)}</dd>"
        f"<dt>Amount</dt><dd id='receipt-amount'>{escape(receipt.amount)}</dd>"
        f"<dt>Date</dt><dd>{escape(receipt.paid_on)}</dd>"
        f"<dt>Reference</dt><dd id='receipt-reference'>{escape(receipt.reference)}</dd>"
        "</dl><p>You can close this page.</p>",
    )


def invalid_page(practice: str) -> str:
    who = f" Please contact {escape(practice)} if you still need to pay." if practice else ""
    return page(
        "Link no longer valid",
        "<h1 id='invalid'>This payment link is no longer valid</h1>"
        f"<p>The request was withdrawn or has expired.{who}</p>",
    )


def not_found_page() -> str:
    return page(
        "Not found",
        "<h1 id='not-found'>Page not found</h1><p>Check the link in your text message.</p>",
    )


def unavailable_page(practice: str) -> str:
    return page(
        "Try again later",
        "<h1 id='unavailable'>Online payment is not available right now</h1>"
        f"<p>Please try again in a few minutes, or contact {escape(practice)}.</p>",
    )


def processing_page() -> str:
    return page(
        "Payment processing",
        "<h1 id='processing'>We are confirming your payment</h1>"
        "<p>This can take a moment. Refresh this page shortly to see your receipt.</p>",
    )


def canceled_checkout_page(pay_url: str) -> str:
    return page(
        "Payment not completed",
        "<h1 id='checkout-canceled'>Payment not completed</h1>"
        "<p>No money was taken. You can pay whenever you are ready.</p>"
        f"<p><a class='button' href='{escape(pay_url)}'>Pay now</a></p>",
    )
