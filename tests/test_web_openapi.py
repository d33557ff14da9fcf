"""The workbench's API against its own OpenAPI document (schemathesis): generated requests,
valid and invalid, get documented status codes and bodies, never a server error; and the
document's operations all refuse callers without a session (schemathesis' ignored-auth check
and ours)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from hutong.web.deps import SESSION_COOKIE
from workbench import app_fixture, login_fixture, workbench_fixture  # noqa: F401


@pytest.fixture(name="signed")
def signed_fixture(login) -> dict[str, str]:
    """Headers of an admin session: the cookie and its CSRF token."""
    client = login("admin1")
    token = client.cookies.get(SESSION_COOKIE)
    return {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": client.csrf}


def test_operations_follow_the_document(app, signed):
    """Every operation of the document, each with generated requests (schemathesis)."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, headers=signed)
    # signing out would end the session the other operations run in; it has its own tests
    operations = [op.ok() for op in schema.exclude(path="/api/logout").get_all_operations()]
    assert len(operations) >= 4
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case):
            case.call_and_validate(headers=signed)

        check()
