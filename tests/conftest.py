"""Shared fixtures: throwaway databases on SQLite and (where reachable) PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from jotpay_app.services.db import make_engine
from jotpay_app.services.migrations import upgrade_to_head
from tests.pgdb import throwaway_database

IN_CI = os.environ.get("CI", "").lower() == "true"


def needs_service(env_name: str, what: str) -> str:
    """The service URL from the environment; without it skip (or fail in CI)."""
    url = os.environ.get(env_name, "")
    if not url:
        message = f"{env_name} is not set: {what} tests need it"
        if IN_CI:
            pytest.fail(message + " (CI=true requires it)")
        pytest.skip(message)
    return url


def truncate_all(engine: Engine) -> None:
    tables = [t for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture(scope="session")
def sqlite_engine_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("db") / "jotpay-test.db"
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this run (never the shared one itself)."""
    base_url = needs_service("TEST_DATABASE_URL", "PostgreSQL")
    with throwaway_database(base_url) as url:
        yield url


@pytest.fixture(scope="session")
def pg_engine_session(pg_database_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_engine_session: Engine) -> Engine:
    truncate_all(sqlite_engine_session)
    return sqlite_engine_session


@pytest.fixture
def pg_engine(pg_engine_session: Engine) -> Engine:
    truncate_all(pg_engine_session)
    return pg_engine_session


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_engine")
    return request.getfixturevalue("pg_engine")


@pytest.fixture
def session(sqlite_engine: Engine) -> Iterator[Session]:
    """A SQLite session for unit tests of services."""
    with Session(sqlite_engine, expire_on_commit=False) as s:
        yield s
        s.rollback()


@pytest.fixture
def app_db(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """Point the app's own session helper at the test database (for state handlers)."""
    from jotpay_app.services import db

    monkeypatch.setattr(db, "get_engine", lambda: sqlite_engine)
    return sqlite_engine
