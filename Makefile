# JotPay: `make run` serves the app with demo data; `make test` passes the suite.
SHELL := /bin/bash
ENV := source scripts/env.sh &&

.PHONY: run test setup setup-dev migrate seed reseed lint format bench sandbox

setup:
	@scripts/bootstrap.sh

setup-dev:
	@scripts/bootstrap.sh --dev

migrate: setup
	@$(ENV) python -m jotpay_app.manage migrate

seed: setup
	@$(ENV) python -m jotpay_app.manage seed

reseed: setup
	@$(ENV) python -m jotpay_app.manage reseed

run: setup
	@$(ENV) scripts/run.sh

test: setup-dev
	@$(ENV) scripts/test.sh

bench: setup-dev
	@$(ENV) scripts/bench.sh

lint: setup-dev
	@$(ENV) ruff check . && ruff format --check .

format: setup-dev
	@$(ENV) ruff format . && ruff check --fix .
