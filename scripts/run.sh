#!/usr/bin/env bash
# `make run`: migrate, load demo data when the database is empty, start the local
# Stripe/Twilio stand-in unless real keys are set, then serve the app.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export JOTPAY_DATA_DIR="${JOTPAY_DATA_DIR:-$ROOT/data}"
mkdir -p "$JOTPAY_DATA_DIR"
BACKEND_PORT="${JOTPAY_BACKEND_PORT:-8000}"
SANDBOX_PORT="${JOTPAY_SANDBOX_PORT:-12111}"

sandbox_pid=""
cleanup() { [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ -z "${STRIPE_SECRET_KEY:-}" ] && [ -z "${TWILIO_ACCOUNT_SID:-}" ]; then
  # No real keys: everything talks to the local stand-in, through the same SDKs.
  keys="$JOTPAY_DATA_DIR/sandbox/keys.env"
  mkdir -p "$(dirname "$keys")"
  if [ ! -f "$keys" ]; then
    rand() { python -c "import secrets; print(secrets.token_hex($1))"; }
    {
      echo "STRIPE_SECRET_KEY=sk_test_local_$(rand 12)"
      echo "STRIPE_WEBHOOK_SECRET=whsec_$(rand 16)"
      echo "STRIPE_CONNECT_WEBHOOK_SECRET=whsec_$(rand 16)"
      echo "TWILIO_ACCOUNT_SID=AC$(rand 16)"
      echo "TWILIO_AUTH_TOKEN=$(rand 16)"
    } > "$keys"
  fi
  set -a; source "$keys"; set +a
  export STRIPE_API_BASE="http://127.0.0.1:$SANDBOX_PORT"
  export TWILIO_API_BASE="http://127.0.0.1:$SANDBOX_PORT"
  export JOTPAY_SANDBOX_OUTBOX_URL="http://localhost:$SANDBOX_PORT/sandbox/outbox"
  python -m jotpay_app.sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" \
    --public-url "http://localhost:$SANDBOX_PORT" \
    --data "$JOTPAY_DATA_DIR/sandbox" \
    --stripe-key "$STRIPE_SECRET_KEY" \
    --webhook-url "http://127.0.0.1:$BACKEND_PORT/api/stripe/webhook" \
    --webhook-secret "$STRIPE_WEBHOOK_SECRET" \
    --connect-webhook-url "http://127.0.0.1:$BACKEND_PORT/api/stripe/connect-webhook" \
    --connect-webhook-secret "$STRIPE_CONNECT_WEBHOOK_SECRET" \
    --twilio-sid "$TWILIO_ACCOUNT_SID" --twilio-token "$TWILIO_AUTH_TOKEN" \
    --twilio-webhook-url "http://127.0.0.1:$BACKEND_PORT/api/twilio/inbound" &
  sandbox_pid=$!
  for _ in $(seq 1 50); do
    curl -fs -o /dev/null "http://127.0.0.1:$SANDBOX_PORT/sandbox/outbox" 2>/dev/null && break
    sleep 0.2
  done
  echo "== local Stripe/Twilio stand-in at http://localhost:$SANDBOX_PORT (phone outbox: $JOTPAY_SANDBOX_OUTBOX_URL)"
fi

python -m jotpay_app.manage seed
echo "== JotPay at http://localhost:${JOTPAY_FRONTEND_PORT:-3000}  (demo@jotpay.local / jotpay-demo)"
reflex run "$@"
