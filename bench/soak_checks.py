"""The soak's checks at the end of the run, its memory verdict and its report
(bench/soak.py). Every check compares what WeCom (the sandbox) saw with what the platform
recorded; a loss, a duplicate or an unprocessed item is appended to `failures`."""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.contacts_sync import SCHEMA, number  # noqa: E402

if TYPE_CHECKING:
    import argparse

    from bench.soak import Record, World

# The fields that tell two callbacks apart, in the sandbox's log and in the stored payload.
EVENT_KEY = (
    "CreateTime",
    "Event",
    "ChangeType",
    "UserID",
    "ExternalUserID",
    "State",
    "WelcomeCode",
    "Source",
    "FailReason",
)
# WeCom's per-customer result of a group message -> the delivery status it must become.
SEND_RESULTS = {1: "sent", 2: "not_friend", 3: "capped", 0: "not_sent"}
TRANSFER_RESULTS = {1: "accepted", 3: "lost", 4: "taker_full"}
FINAL_SENDS = ("done", "cancelled", "failed")
# Memory: flat when the growth over the last two thirds stays within the larger of these.
FLAT_MB = 15.0
FLAT_SHARE = 0.10
MEMORY_VERDICT_MINUTES = 10  # shorter runs report memory without failing on it
# A process is judged when sampled this often over this long (or a third of the run): a
# worker started again after a kill is a new series.
JUDGED_SAMPLES = 5
JUDGED_SECONDS = 300


def event_key(fields: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(fields.get(name) or "") for name in EVENT_KEY)


def sample_of(items: Any, size: int = 3) -> list[Any]:
    return list(items)[:size]


class Tally:
    """Problems found by one check: each a kind ("lost: ...", "duplicate: ...",
    "unprocessed: ...", "wrong: ...") with examples; all of them fail the run."""

    def __init__(self, check: str) -> None:
        self.check = check
        self.problems: dict[str, list[Any]] = defaultdict(list)

    def add(self, kind: str, example: Any) -> None:
        self.problems[kind].append(example)

    def count(self, prefix: str) -> int:
        return sum(len(v) for k, v in self.problems.items() if k.startswith(prefix))

    def report(self, failures: list[str]) -> dict[str, Any]:
        for kind, examples in self.problems.items():
            failures.append(f"{self.check}: {kind}: {len(examples):,}, e.g. {examples[:3]}")
        return {
            "lost": self.count("lost"),
            "duplicates": self.count("duplicate"),
            "unprocessed": self.count("unprocessed"),
            "wrong": self.count("wrong"),
            "problems": {k: len(v) for k, v in self.problems.items()},
        }


# --- callbacks -------------------------------------------------------------------------------


def check_callbacks(control: Any, corp_id: str, failures: list[str]) -> dict[str, Any]:
    """Every callback WeCom sent was acknowledged, stored once and processed."""
    from scrm.wecom.models import CallbackEvent

    tally = Tally("callbacks")
    deliveries = control.callbacks(corp_id)
    statuses = Counter(d["status"] for d in deliveries)
    retried = sum(1 for d in deliveries if len(d["attempts"]) > 1)
    sent = Counter(event_key(d["event"]) for d in deliveries)
    acknowledged = Counter(event_key(d["event"]) for d in deliveries if d["status"] == "delivered")
    stored: Counter[tuple[str, ...]] = Counter()
    by_status: Counter[str] = Counter()
    failed_reasons: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    rows = CallbackEvent.objects.values_list(
        "payload", "status", "change_type", "event", "last_error"
    )
    for payload, status, change_type, event, last_error in rows.iterator():
        key = event_key(payload)
        stored[key] += 1
        by_status[status] += 1
        by_kind[change_type or event][status] += 1
        if status == CallbackEvent.Status.FAILED:
            failed_reasons[last_error.split(":")[0]] += 1
            tally.add(
                "unprocessed: failed",
                f"{change_type} {payload.get('ExternalUserID', '')}: {last_error[:120]}",
            )
        elif status != CallbackEvent.Status.DONE:
            tally.add(
                f"unprocessed: {status}", f"{change_type} {payload.get('ExternalUserID', '')}"
            )
    for key in acknowledged:
        if key not in stored:
            tally.add("lost: acknowledged but not stored", key)
    for d in deliveries:
        if d["status"] in ("failed", "pending") and event_key(d["event"]) not in stored:
            codes = [a["status_code"] or a["error"][:40] for a in d["attempts"]]
            tally.add(
                f"lost: WeCom gave up ({d['status']})", f"{d['event'].get('ChangeType')} {codes}"
            )
    for key, n in stored.items():
        if n > sent.get(key, 0):
            tally.add("duplicate: stored more often than sent", key)
    return {
        "sent_by_wecom": len(deliveries),
        "wecom_statuses": dict(statuses),
        "wecom_resent": retried,
        "stored": sum(stored.values()),
        "by_status": dict(by_status),
        "processed": by_status.get(CallbackEvent.Status.DONE, 0),
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "failed_reasons": dict(failed_reasons),
        **tally.report(failures),
    }


# --- scans: attribution and welcomes -------------------------------------------------------


def check_adds(control: Any, world: World, record: Record, failures: list[str]) -> dict[str, Any]:
    """Every scan's relation attributed to the channel, its welcome handled once, and no
    customer welcomed twice (the sandbox's receipts)."""
    from channels_qr.models import WelcomeLog
    from contacts.models import Relation

    tally = Tally("adds")
    scanned = {s["external_userid"]: s["userid"] for s in record.scans}
    attributed = set(
        Relation.objects.filter(channel_id=world.channel_id).values_list(
            "customer__external_userid", flat=True
        )
    )
    logs: dict[str, list[str]] = defaultdict(list)
    for external_userid, outcome in WelcomeLog.objects.values_list("external_userid", "outcome"):
        logs[external_userid].append(outcome)
    welcomes = control.all_receipts(world.corp_id, "welcome")
    outcomes: Counter[str] = Counter()
    received_not_logged: Counter[str] = Counter()
    for external_userid in scanned:
        # A customer of the departed guide is added again by the taker, without a code.
        mine = [o for o in logs.get(external_userid, []) if o != WelcomeLog.Outcome.NO_CODE]
        outcomes.update(mine)
        got = welcomes.get(external_userid, [])
        if external_userid not in attributed:
            tally.add("lost: not attributed to the channel", external_userid)
        if not mine:
            tally.add("lost: no welcome log", external_userid)
        if len(mine) > 1:
            tally.add("duplicate: two welcome logs", external_userid)
        if len(got) > 1:
            tally.add("duplicate: welcomed twice", (external_userid, got))
        if "sent" in mine and not got:
            tally.add("lost: logged sent, never received", external_userid)
        if got and "sent" not in mine:
            received_not_logged[mine[0] if mine else "no log"] += 1
    return {
        "scans": len(scanned),
        "attributed": len(attributed & set(scanned)),
        "welcome_outcomes": dict(outcomes),
        "welcomed": sum(1 for e in scanned if welcomes.get(e)),
        "received_though_logged": dict(received_not_logged),
        **tally.report(failures),
    }


def check_deletions(record: Record, failures: list[str]) -> dict[str, Any]:
    """Every customer who deleted a guide shows as such."""
    from contacts.models import Relation

    tally = Tally("deletions")
    wanted = {(d["external_userid"], d["userid"]) for d in record.deletions}
    found = {
        (e, u): s
        for e, u, s in Relation.objects.filter(
            customer__external_userid__in=[e for e, _ in wanted]
        ).values_list("customer__external_userid", "guide__userid", "status")
    }
    statuses = Counter(found.get(pair, "no relation") for pair in wanted)
    for pair in wanted:
        if found.get(pair) != Relation.Status.DELETED_BY_CUSTOMER:
            tally.add(f"lost: relation {found.get(pair, 'missing')}", pair)
    return {"deletions": len(wanted), "statuses": dict(statuses), **tally.report(failures)}


# --- group sends ---------------------------------------------------------------------------


def check_group_sends(control: Any, corp_id: str, failures: list[str]) -> dict[str, Any]:
    """Every send final, every delivery equal to WeCom's result for that customer, every
    template in WeCom recorded by one chunk, nobody receiving a message twice."""
    from broadcast.models import Broadcast, Chunk, Delivery

    tally = Tally("group sends")
    sends = dict(Broadcast.objects.values_list("pk", "status"))
    names = dict(Broadcast.objects.values_list("pk", "name"))
    for pk, status in sends.items():
        if status not in FINAL_SENDS:
            tally.add(f"unprocessed: send {status}", names[pk])
    chunks = {
        msgid: (broadcast_id, userid)
        for msgid, broadcast_id, userid in Chunk.objects.exclude(msgid="").values_list(
            "msgid", "broadcast_id", "sender__userid"
        )
    }
    templates: list[dict[str, Any]] = []
    while True:
        page = control.templates(corp_id, offset=len(templates), limit=10_000)
        templates += page["templates"]
        if not page["templates"] or len(templates) >= page["total"]:
            break
    results: dict[str, dict[str, int]] = {}
    cancelled = set()
    for template in templates:
        msgid = template["msgid"]
        if template["cancelled"]:
            cancelled.add(msgid)
        detail = control.template(corp_id, msgid)
        results[msgid] = {
            target: int(result[0])
            for per_sender in detail["results"].values()
            for target, result in per_sender.items()
        }
        if msgid not in chunks:
            tally.add(
                "duplicate: a template in WeCom that no chunk recorded",
                (msgid, template["creator"]),
            )
    for msgid in chunks:
        if msgid not in results:
            tally.add("lost: a chunk's template is not in WeCom", msgid)
    statuses: Counter[str] = Counter()
    sent: dict[tuple[str, str], bool] = {}
    rows = Delivery.objects.values_list("broadcast_id", "target", "status", "chunk__msgid")
    for broadcast_id, target, status, msgid in rows.iterator():
        statuses[status] += 1
        if status in (Delivery.Status.PLANNED, Delivery.Status.WAITING):
            tally.add(f"unprocessed: delivery {status}", (names[broadcast_id], target))
            continue
        if not msgid or msgid not in results:
            continue
        wecom = results[msgid].get(target)
        if wecom is None:  # refused by add_msg_template (fail_list)
            expected = "failed"
        elif wecom == 0 and status in ("not_sent", "cancelled"):
            expected = status  # not sent before the deadline, or the send was cancelled
        else:
            expected = SEND_RESULTS.get(wecom, "?")
        if expected != status:
            tally.add("wrong: delivery differs from WeCom's result", (target, status, wecom))
        if status == Delivery.Status.SENT:
            sent[(target, msgid)] = True
    received = control.all_receipts(corp_id, "group_msg")
    message_count = 0
    for target, entries in received.items():
        msgids = [entry[2] for entry in entries]
        message_count += len(msgids)
        for msgid, n in Counter(msgids).items():
            if n > 1:
                tally.add("duplicate: the same message received twice", (target, msgid))
        per_send = Counter(chunks[m][0] for m in msgids if m in chunks)
        for broadcast_id, n in per_send.items():
            if n > 1:
                tally.add("duplicate: one send received twice", (target, names[broadcast_id]))
        for msgid in msgids:
            if msgid in chunks and (target, msgid) not in sent:
                tally.add("wrong: received, but its delivery is not `sent`", (target, msgid))
    for target, msgid in sent:
        if msgid not in [entry[2] for entry in received.get(target, [])]:
            tally.add("lost: delivery `sent`, never received", (target, msgid))
    return {
        "group_sends": len(sends),
        "send_statuses": dict(Counter(sends.values())),
        "templates_in_wecom": len(templates),
        "templates_cancelled": len(cancelled),
        "deliveries": sum(statuses.values()),
        "delivery_statuses": dict(statuses),
        "messages_received": message_count,
        **tally.report(failures),
    }


# --- handover ------------------------------------------------------------------------------


def check_handover(
    control: Any, world: World, record: Record, handover_id: int | None, failures: list[str]
) -> dict[str, Any]:
    """Every customer of the departed guide in one item, every item final and equal to
    WeCom's transfer, no customer transferred twice."""
    from handover.models import Handover, TransferItem

    tally = Tally("handover")
    if handover_id is None:
        tally.add("unprocessed: the handover never started", world.leaver)
        return {"items": 0, **tally.report(failures)}
    status = Handover.objects.values_list("status", flat=True).get(pk=handover_id)
    if status != Handover.Status.DONE:
        tally.add(f"unprocessed: handover {status}", handover_id)
    items: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for external_id, item_status, taker in TransferItem.objects.filter(
        handover_id=handover_id, target=TransferItem.Target.CUSTOMER
    ).values_list("external_id", "status", "to_guide__userid"):
        items[external_id].append((item_status, taker or ""))
    transfers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for transfer in control.transfers(world.corp_id):
        transfers[transfer["external_userid"]].append(transfer)
    held = {e for e, u in world.seeded if u == world.leaver}
    held |= {s["external_userid"] for s in record.scans if s["userid"] == world.leaver}
    statuses: Counter[str] = Counter()
    for external_userid in held:
        mine = items.get(external_userid, [])
        if not mine:
            tally.add("lost: a customer of the departed guide in no item", external_userid)
        if len(mine) > 1:
            tally.add("duplicate: two items", external_userid)
        if len(transfers.get(external_userid, [])) > 1:
            tally.add("duplicate: transferred twice in WeCom", external_userid)
    for external_userid, mine in items.items():
        item_status, taker = mine[0]
        statuses[item_status] += 1
        if item_status in TransferItem.IN_FLIGHT:
            tally.add(f"unprocessed: item {item_status}", external_userid)
            continue
        sent = transfers.get(external_userid, [])
        if not sent:
            if item_status in TRANSFER_RESULTS.values():
                tally.add("wrong: final as transferred, unknown to WeCom", external_userid)
            continue
        wecom = sent[-1]
        if TRANSFER_RESULTS.get(wecom["status"]) != item_status:
            tally.add(
                "wrong: item differs from WeCom's transfer",
                (external_userid, item_status, wecom["status"]),
            )
        if wecom["takeover_userid"] != taker:
            tally.add(
                "wrong: another taker in WeCom", (external_userid, taker, wecom["takeover_userid"])
            )
    return {
        "handover": handover_id,
        "status": status,
        "customers_held": len(held),
        "items": sum(len(v) for v in items.values()),
        "item_statuses": dict(statuses),
        "transfers_in_wecom": sum(len(v) for v in transfers.values()),
        "answered": dict(Counter(record.decided.values())),
        **tally.report(failures),
    }


def check_all(
    control: Any, world: World, record: Record, handover_id: int | None, failures: list[str]
) -> dict[str, Any]:
    from django_tenants.utils import schema_context

    with schema_context(SCHEMA):
        return {
            "callbacks": check_callbacks(control, world.corp_id, failures),
            "adds": check_adds(control, world, record, failures),
            "deletions": check_deletions(record, failures),
            "group_sends": check_group_sends(control, world.corp_id, failures),
            "handover": check_handover(control, world, record, handover_id, failures),
        }


# --- memory --------------------------------------------------------------------------------


def memory_figures(
    samples: list[dict[str, Any]], args: argparse.Namespace, failures: list[str]
) -> dict[str, Any]:
    """Per process: RSS after the warm-up (or its start), at one third of its time, at the
    end of the load, and the verdict (see FLAT_MB, FLAT_SHARE)."""
    total = args.minutes * 60
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for point in samples:
        if point["at"] > total + 1:
            continue  # the drain is quieter: the verdict is about the load
        for name, rss in point["rss"].items():
            series[name].append((point["at"], rss))
    processes: dict[str, dict[str, Any]] = {}
    not_flat = []
    for name, points in series.items():
        first_at, start = points[0]
        last_at, end = points[-1]
        third_at = first_at + (last_at - first_at) / 3
        third = next(rss for at, rss in points if at >= third_at)
        growth = end - third
        allowed = max(FLAT_MB, FLAT_SHARE * third)
        judged = len(points) >= JUDGED_SAMPLES and last_at - first_at >= min(
            total / 3, JUDGED_SECONDS
        )
        flat = growth <= allowed if judged else None
        processes[name] = {
            "samples": len(points),
            "from_s": first_at,
            "to_s": last_at,
            "start_mb": start,
            "third_mb": third,
            "end_mb": end,
            "growth_mb": round(end - start, 1),
            "growth_last_two_thirds_mb": round(growth, 1),
            "allowed_mb": round(allowed, 1),
            "flat": flat,
        }
        if flat is False:
            not_flat.append(f"{name} +{growth:.1f} MB (allowed {allowed:.1f})")
    if not_flat and args.minutes >= MEMORY_VERDICT_MINUTES:
        failures.append(f"memory not flat: {not_flat}")
    loads = [point["load"] for point in samples]
    return {
        "rule": f"flat: growth over the last two thirds <= max({FLAT_MB:g} MB, "
        f"{FLAT_SHARE:.0%} of the RSS at one third); judged on {JUDGED_SAMPLES} samples or "
        f"more over {JUDGED_SECONDS // 60} minutes (or a third of the run) or more",
        "processes": processes,
        "not_flat": not_flat,
        "load_average_mean": round(sum(loads) / len(loads), 2) if loads else None,
        "load_average_max": max(loads, default=None),
    }


# --- report --------------------------------------------------------------------------------


def table(rows: list[list[str]], left: int = 1) -> list[str]:
    """Aligned columns: the first `left` columns and the last one to the left, the rest
    (figures) to the right; a rule under the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(widths[i]) if i < left or i == len(row) - 1 else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        out.append("  ".join(cells).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def _summary(figures: dict[str, Any]) -> list[str]:
    options, counts = figures["options"], figures.get("counts", {})
    machine, memory = figures.get("machine", {}), figures.get("memory", {})
    events = figures.get("events", [])
    kills = sum(1 for e in events if e["kind"] == "worker SIGKILLed and restarted")
    restarts = {e["kind"]: e.get("seconds") for e in events if e["kind"].endswith("restarted")}
    return [
        f"soak: {options['minutes']:g} min of load on {figures['cpus']} CPUs shared with "
        f"other work (load average {machine.get('load_average_at_start')} at the start, "
        f"mean {memory.get('load_average_mean')}, max {memory.get('load_average_max')}); "
        f"drain {figures.get('drain', {}).get('seconds')} s; whole run "
        f"{figures['run_seconds']} s",
        f"load: {number(counts.get('scans', 0))} scans ({options['scan_rate']:g}/s), "
        f"{number(counts.get('deletions', 0))} deletions ({options['delete_rate']:g}/s), "
        f"{counts.get('group_sends', 0)} group sends (every {options['send_every']:g} min), "
        f"{counts.get('templates_sent_by_guides', 0)} messages sent by the guides, a guide "
        f"left: transfers answered {counts.get('transfers_answered', {})}",
        f"faults: {kills} worker SIGKILLs, Redis restarted in "
        f"{restarts.get('redis restarted')} s, PostgreSQL in "
        f"{restarts.get('postgresql restarted')} s; the sandbox injected "
        f"{figures.get('sandbox_faults', {})}",
    ]


def _checks_table(checks: dict[str, Any]) -> list[str]:
    cb, adds, dels = checks["callbacks"], checks["adds"], checks["deletions"]
    gs, ho = checks["group_sends"], checks["handover"]
    rows = [["check", "lost", "duplicates", "unprocessed", "wrong", "figures"]]
    figures = {
        "callbacks": f"sent by WeCom {cb['sent_by_wecom']:,} {cb['wecom_statuses']} "
        f"({cb['wecom_resent']} sent again), stored {cb['stored']:,}, processed "
        f"{cb['processed']:,}",
        "adds": f"{adds['scans']:,} scans, {adds['attributed']:,} attributed, welcome logs "
        f"{adds['welcome_outcomes']}, {adds['welcomed']:,} welcomes received",
        "deletions": f"{dels['deletions']:,}: {dels['statuses']}",
        "group_sends": f"{gs['group_sends']} sends {gs['send_statuses']}, "
        f"{gs['templates_in_wecom']} messages ({gs['templates_cancelled']} cancelled at the "
        f"deadline), deliveries {gs['delivery_statuses']}, {gs['messages_received']:,} "
        "received",
        "handover": f"{ho.get('customers_held', 0)} customers, {ho['items']} items "
        f"{ho.get('item_statuses', {})}, {ho.get('transfers_in_wecom', 0)} transfers in WeCom",
    }
    for name, text in figures.items():
        part = checks[name]
        counted = [str(part[k]) for k in ("lost", "duplicates", "unprocessed", "wrong")]
        rows.append([name.replace("_", " "), *counted, text])
    out = table(rows)
    if cb.get("failed_reasons"):
        out.append(f"failed callbacks by handler: {cb['failed_reasons']}")
    if adds.get("received_though_logged"):
        out.append(f"welcomes received though logged otherwise: {adds['received_though_logged']}")
    return out


def _memory_table(memory: dict[str, Any]) -> list[str]:
    rows = [["process", "samples", "start", "1/3", "end", "growth", "last 2/3", "flat"]]
    for name, p in sorted(memory["processes"].items()):
        rows.append(
            [
                name,
                f"{p['samples']} ({p['from_s']:.0f}-{p['to_s']:.0f} s)",
                f"{p['start_mb']:.1f}",
                f"{p['third_mb']:.1f}",
                f"{p['end_mb']:.1f}",
                f"{p['growth_mb']:+.1f}",
                f"{p['growth_last_two_thirds_mb']:+.1f}",
                {True: "yes", False: "NO", None: "too short"}[p["flat"]],
            ]
        )
    return [f"memory (RSS in MB; {memory['rule']}):", *table(rows)]


def print_report(figures: dict[str, Any]) -> None:
    out = _summary(figures)
    if figures.get("checks"):
        out += _checks_table(figures["checks"])
    if figures.get("memory"):
        out += _memory_table(figures["memory"])
    for crash in figures.get("crashes", []):
        out.append(
            f"CRASHED (started again by the soak, as a supervisor would): {crash['process']} "
            f"at {crash['at']} s, exit {crash['exit']}: {crash['log'][-200:]}"
        )
    if figures.get("load_errors"):
        out.append(f"errors of the simulated people's calls: {figures['load_errors']}")
    for failure in figures["failures"]:
        out.append(f"FAIL: {failure}")
    if not figures["failures"]:
        out.append("OK: nothing lost, nothing twice, everything final")
    print("\n".join(out))
