"""Schemathesis over the whole OpenAPI schema: for every operation, generated valid and
invalid requests never get a 5xx, every answer's status, content type and body match the
schema, and every 4xx says what was wrong in JSON.

Stateful too: schemathesis links operations by the ids one answers and another takes (a
created channel is then read, changed and deleted), and runs random chains of such calls.

Bounded here (EXAMPLES per operation and mode, SCENARIOS chains of up to STEPS calls);
`bench/api_fuzz.py` runs larger sizes through the SCRM_FUZZ_* variables.
"""

import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django_tenants.utils import schema_context
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import APIKey
from accounts.tests.factories import bearer, make_api_key

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("SCRM_FUZZ_EXAMPLES", "12"))
SCENARIOS = int(os.environ.get("SCRM_FUZZ_SCENARIOS", "15"))
STEPS = int(os.environ.get("SCRM_FUZZ_STEPS", "6"))
# bench/api_fuzz.py reads what each test sent and got from this file (JSON lines).
REPORT = os.environ.get("SCRM_FUZZ_REPORT")
# Batch endpoints take a well-formed list and answer 200 with each bad item reported as
# `invalid` (the others saved): an invalid item is not a refused request there.
PARTIAL_SUCCESS = {"POST /api/v1/orders/batch/", "POST /api/v1/events/batch/"}
HOST = "http://alpha.localhost"


def clear_client_errors(response: Any) -> None:
    """A 4xx answers in JSON and says what was wrong (a `detail`, or the fields named)."""
    status = response.status_code
    if not 400 <= status < 500 or status == 405:
        return
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{status} without a JSON body: {response.text[:200]!r}") from None
    assert isinstance(body, dict), f"{status} body is not an object: {body!r}"
    assert body, f"{status} with an empty body"
    detail = body.get("detail")
    assert detail is None or (isinstance(detail, str) and detail.strip()), body


def has_untrimmed_text(value: Any) -> bool:
    """Text with leading or trailing whitespace anywhere in the body: text fields are
    trimmed before their length is checked (docs/api.md), so a 101-character name ending
    in a space fits a limit of 100."""
    if isinstance(value, str):
        return value != value.strip()
    if isinstance(value, dict):
        return any(has_untrimmed_text(v) for v in value.values())
    if isinstance(value, list):
        return any(has_untrimmed_text(v) for v in value)
    return False


def sends_empty(value: Any) -> bool:
    """A generated query value that goes on the wire as `name=` or not at all: an empty
    string, or an empty (or all-empty) object or list, which the client flattens."""
    if value is None or value == "":
        return True
    if isinstance(value, dict):
        return all(sends_empty(v) for v in value.values())
    if isinstance(value, list):
        return all(sends_empty(v) for v in value)
    return False


def has_empty_query_value(case: Any) -> bool:
    """A parameter sent as `name=` or not at all, or a list of one value, which goes on the
    wire as that value alone: neither is a schema violation the server can see."""
    return any(
        sends_empty(value) or (isinstance(value, list) and len(value) == 1)
        for value in (case.query or {}).values()
    )


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def load_schema() -> Any:
    spec = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(spec)
    schema.app = get_wsgi_application()  # called in-process, like Django's test client
    return schema


SCHEMA = load_schema()
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


def report(test: str, statuses: Counter[int]) -> None:
    if REPORT:
        with open(REPORT, "a") as out:
            out.write(json.dumps({"test": test, "statuses": dict(statuses)}) + "\n")


def with_key(case: Any, api_headers: dict[str, str]) -> None:
    """A real key, not a generated one; the brand's host, not a generated Host header."""
    generated = {k: v for k, v in (case.headers or {}).items() if k.lower() != "host"}
    case.headers = {**generated, **api_headers}


@pytest.fixture
def api_headers(db, settings) -> Iterator[dict[str, str]]:
    settings.API_KEY_RATE = None  # thousands of requests from one key
    with schema_context("alpha"):
        _, raw = make_api_key(scope=APIKey.Scope.READ_WRITE)
    # The WSGI app would close the test's connection after each request (and with it the
    # test's transaction); Django's test client does the same disconnection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield {"Authorization": bearer(raw)["HTTP_AUTHORIZATION"]}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_operation_answers_as_documented(label, mode, api_headers):
    operation = OPERATIONS[label]
    statuses: Counter[int] = Counter()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        with_key(case, api_headers)
        response = case.call(base_url=HOST)
        statuses[response.status_code] += 1
        checks = list(CHECKS)
        # An empty query parameter counts as not given, and text is trimmed before it is
        # checked (docs/api.md): such requests need not be refused.
        if (
            mode == GenerationMode.NEGATIVE
            and label not in PARTIAL_SUCCESS
            and not has_empty_query_value(case)
            and not has_untrimmed_text(case.body)
        ):
            checks.append(negative_data_rejection)
        case.validate_response(response, checks=checks)
        clear_client_errors(response)

    try:
        run()
    finally:
        report(f"{label} {mode.value}", statuses)


def test_chains_of_linked_calls_answer_as_documented(api_headers):
    statuses: Counter[int] = Counter()
    machine = SCHEMA.as_state_machine()  # infers the links first
    transitions = SCHEMA.statistic.transitions.selected
    assert transitions > 100, "schemathesis found no links between operations"

    class Workflow(machine):  # type: ignore[misc, valid-type]
        # Every chain starts from the same data (Hypothesis replays chains and needs the
        # same answers to the same calls): each runs inside a savepoint rolled back after.
        def setup(self) -> None:
            self.savepoint = transaction.savepoint()

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)

        def before_call(self, case: Any) -> None:
            with_key(case, api_headers)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": HOST}

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)
            clear_client_errors(response)

    try:
        Workflow.run(
            settings=settings(
                max_examples=SCENARIOS,
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
        )
    finally:
        report(f"stateful ({transitions} links)", statuses)
    # the chains reached past the first call: some call answered 2xx
    assert any(200 <= status < 300 for status in statuses), statuses
