"""Stripe Connect onboarding: one Express account per clinician, set up once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from jotpay_app.models import Clinician, StripeAccount, utcnow
from jotpay_app.services.stripe_gateway import AccountState, StripeGateway, idempotency_key

# Stripe's requirement names, in words a clinician understands.
REQUIREMENT_LABELS = {
    "external_account": "bank account for payouts",
    "individual.verification.document": "identity document",
    "individual.verification": "identity verification",
    "individual.dob.day": "date of birth",
    "individual.ssn_last_4": "last 4 digits of SSN",
    "individual.first_name": "legal name",
    "individual.last_name": "legal name",
    "individual.address.line1": "address",
    "tos_acceptance.date": "acceptance of Stripe's terms",
    "business_profile.url": "business website or description",
    "business_profile.mcc": "business category",
}


@dataclass(frozen=True)
class ConnectStatus:
    has_account: bool
    ready: bool  # charges enabled: requests can be sent
    payouts_enabled: bool
    details_submitted: bool
    missing: tuple[str, ...]  # human words for what Stripe still needs


def account_for(session: Session, clinician_id: int) -> StripeAccount | None:
    return session.exec(
        select(StripeAccount).where(StripeAccount.clinician_id == clinician_id)
    ).first()


def status_of(account: StripeAccount | None) -> ConnectStatus:
    if account is None:
        return ConnectStatus(False, False, False, False, ())
    due = [d for d in account.requirements_due.split(",") if d]
    words = tuple(dict.fromkeys(REQUIREMENT_LABELS.get(d, d.replace("_", " ")) for d in due))
    return ConnectStatus(
        True, account.charges_enabled, account.payouts_enabled, account.details_submitted, words
    )


def store_state(
    session: Session, state: AccountState, clinician_id: int | None = None
) -> StripeAccount | None:
    account = session.exec(
        select(StripeAccount).where(StripeAccount.stripe_account_id == state.account_id)
    ).first()
    if account is None:
        if clinician_id is None:
            return None  # an account this app did not create
        account = StripeAccount(clinician_id=clinician_id, stripe_account_id=state.account_id)
    account.charges_enabled = state.charges_enabled
    account.payouts_enabled = state.payouts_enabled
    account.details_submitted = state.details_submitted
    account.requirements_due = ",".join(state.requirements_due)[:2000]
    account.updated_at = utcnow()
    session.add(account)
    session.flush()
    return account


def onboarding_url(
    session: Session, clinician_id: int, stripe: StripeGateway, *, return_url: str, refresh_url: str
) -> str:
    """Create the Express account on first use (idempotent per clinician), then a fresh
    single-use onboarding link."""
    account = account_for(session, clinician_id)
    if account is None:
        clinician = session.get(Clinician, clinician_id)
        assert clinician is not None
        session.commit()  # no transaction (no lock) while Stripe answers
        state = stripe.create_express_account(
            clinician_id=clinician_id,
            email=clinician.email,
            key=idempotency_key("express-account", clinician_id, clinician.created_at),
        )
        account = store_state(session, state, clinician_id)
        assert account is not None
        session.commit()  # keep the account id even if creating the link fails
    account_id = account.stripe_account_id
    session.commit()  # as above: nothing held while Stripe answers
    return stripe.create_onboarding_link(account_id, refresh_url=refresh_url, return_url=return_url)


def refresh_from_stripe(
    session: Session, clinician_id: int, stripe: StripeGateway
) -> ConnectStatus:
    account = account_for(session, clinician_id)
    if account is None:
        return status_of(None)
    account_id = account.stripe_account_id
    session.commit()  # nothing held while Stripe answers
    state = stripe.retrieve_account(account_id)
    return status_of(store_state(session, state, clinician_id))
