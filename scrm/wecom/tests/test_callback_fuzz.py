"""Generated bad callbacks (wecom_sandbox.fuzz): no 5xx, nothing stored for invalid ones,
every valid one stored and processed once. bench/callback_fuzz.py runs 10,000 through
gunicorn and a real worker."""

from collections import Counter, defaultdict

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from scrm.wecom.events import registry
from scrm.wecom.events.services import callback_event_process
from scrm.wecom.models import CallbackEvent
from scrm.wecom.tests.conftest import AES_KEY, CORP_ID, TOKEN
from wecom_sandbox.fuzz import KINDS, PROBE_CHANGE_TYPE, fuzz_callbacks

COUNT = 2000


@pytest.fixture
def handler_runs():
    runs: Counter[int] = Counter()

    @registry.callback_handler(
        event="change_external_contact", change_type=PROBE_CHANGE_TYPE, name="test.fuzz_count"
    )
    def count(event):
        runs[event.pk] += 1

    yield runs
    registry.unregister("test.fuzz_count")


def test_generated_callbacks_are_refused_or_stored_and_processed_once(alpha_app, handler_runs):
    client = Client(HTTP_HOST="localhost", raise_request_exception=False)
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    valid_ids = set()
    for callback in fuzz_callbacks(
        corp_id=CORP_ID, token=TOKEN, aes_key=AES_KEY, count=COUNT, seed=11
    ):
        response = client.generic(
            callback.method, callback.path, callback.body, content_type="text/xml"
        )
        statuses[callback.kind][response.status_code] += 1
        if callback.expect == "store":
            valid_ids.add(callback.external_userid)

    assert set(statuses) == set(KINDS)  # every kind was tried
    server_errors = {k: dict(c) for k, c in statuses.items() if any(s >= 500 for s in c)}
    assert not server_errors
    for kind, codes in statuses.items():
        if kind in ("valid", "replay", "replay_reencrypted"):
            assert set(codes) == {200}, (kind, codes)
        else:
            assert all(400 <= code < 500 for code in codes), (kind, codes)
    assert statuses["bad_signature"].keys() == {403}
    assert statuses["oversized"].keys() == {400}

    with schema_context("alpha"):
        events = list(CallbackEvent.objects.all())
        # nothing of the invalid ones, each valid one once (replays not stored again)
        assert sorted(e.payload["ExternalUserID"] for e in events) == sorted(valid_ids)
        assert len(valid_ids) == statuses["valid"][200]

        for event in events:
            assert callback_event_process(event_id=event.pk) == CallbackEvent.Status.DONE
            # a redelivered task finds it done and runs nothing again
            assert callback_event_process(event_id=event.pk) == "skipped"
    assert set(handler_runs) == {e.pk for e in events}
    assert set(handler_runs.values()) == {1}
