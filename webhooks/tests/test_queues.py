"""Webhooks have a queue of their own, and something consumes it everywhere the platform
runs: the production shape, the demo and the tests' session worker."""

import re
from pathlib import Path

import yaml

from broadcast import tasks as broadcast_tasks
from contacts import tasks as contacts_tasks
from handover import tasks as handover_tasks
from scrm.celery import TASK_QUEUES, app, route_by_declared_queue
from scrm.tenant_tasks import QUEUES
from webhooks import tasks

ROOT = Path(__file__).resolve().parents[2]


def test_deliveries_go_to_the_webhooks_queue_and_nothing_else_does():
    assert route_by_declared_queue(tasks.webhook_delivery_send_task.name) == {"queue": "webhooks"}
    assert route_by_declared_queue(tasks.webhook_deliveries_queue_task.name) == {
        "queue": "webhooks"
    }
    assert "webhooks" in {queue.name for queue in app.conf.task_queues}
    assert [broadcast_tasks, contacts_tasks, handover_tasks]  # their tasks are declared
    on_webhooks = {name for name, queue in TASK_QUEUES.items() if queue == "webhooks"}
    assert on_webhooks == {
        tasks.webhook_delivery_send_task.name,
        tasks.webhook_deliveries_queue_task.name,
    }


def test_every_worker_setup_consumes_the_webhooks_queue():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    consumed = set()
    for service in compose["services"].values():
        command = service.get("command") or []
        if "worker" in command:
            consumed |= set(command[command.index("-Q") + 1].split(","))
    demo = re.search(r"celery\" -A scrm worker -Q (\S+)", (ROOT / "dev.sh").read_text())

    assert set(QUEUES) <= consumed  # production
    assert demo
    assert set(QUEUES) <= set(demo.group(1).split(","))  # ./dev.sh demo
    assert "webhooks" in QUEUES  # the session worker of the tests consumes QUEUES
