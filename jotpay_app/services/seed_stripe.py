"""Demo data on the Stripe side: demo2's connected Express account and the payments
behind their past requests, created through the SDK so the Stripe Dashboard, refunds
and the stand-in's ledger match the app's books."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jotpay_app.models import Clinician, PaymentRequest, RequestStatus
from jotpay_app.services import connect
from jotpay_app.services.seed import DEMO2_EMAIL
from jotpay_app.services.stripe_gateway import StripeGateway, idempotency_key

S = RequestStatus
PAID_LIKE = (S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED)


def seed_connected_clinician(
    engine: Engine,
    stripe: StripeGateway,
    *,
    complete_onboarding: Callable[[str], object],
    app_base_url: str,
) -> int:
    """Returns how many Stripe payments were created (0 when already done)."""
    with Session(engine, expire_on_commit=False) as session:
        clinician = session.exec(select(Clinician).where(Clinician.email == DEMO2_EMAIL)).first()
        if clinician is None or connect.account_for(session, clinician.id or 0) is not None:
            return 0
        state = stripe.create_express_account(
            clinician_id=clinician.id or 0,
            email=clinician.email,
            key=idempotency_key("express-account", clinician.id or 0, clinician.created_at),
        )
        link = stripe.create_onboarding_link(
            state.account_id,
            refresh_url=f"{app_base_url}/stripe/refresh",
            return_url=f"{app_base_url}/stripe/return",
        )
        complete_onboarding(link)
        account = connect.store_state(
            session, stripe.retrieve_account(state.account_id), clinician.id
        )
        assert account is not None
        session.commit()
        requests = session.exec(
            select(PaymentRequest)
            .where(PaymentRequest.clinician_id == clinician.id)
            .order_by(PaymentRequest.id)
        ).all()
        created = 0
        for request in requests:
            if request.status not in (*PAID_LIKE, S.PAYMENT_FAILED):
                continue
            result = stripe.create_confirmed_payment(
                key=idempotency_key(
                    "demo-payment", request.id or 0, request.created_at, account.stripe_account_id
                ),
                amount_cents=request.amount_cents,
                application_fee_cents=request.fee_cents,
                destination_account=account.stripe_account_id,
                payment_method="pm_card_visa"
                if request.status in PAID_LIKE
                else "pm_card_chargeDeclined",
                metadata={
                    "jotpay_request_id": str(request.id),
                    "invoice": str(request.invoice_number),
                },
            )
            created += 1
            if request.status in PAID_LIKE:
                request.payment_intent_id = result["id"]
                if request.amount_refunded_cents:
                    stripe.create_refund(
                        payment_intent_id=result["id"],
                        amount_cents=request.amount_refunded_cents,
                        key=f"demo-refund-{result['id']}",
                        metadata={},
                    )
            session.add(request)
        session.commit()
        return created
