"""Local stand-ins for the parts of Stripe's and Twilio's HTTP APIs that JotPay uses.

This package imports nothing from the app: it is a separate program
(`python -m jotpay_app.sandbox`) that the app reaches only over HTTP through the
official SDKs, exactly as it would reach the real services.
"""
