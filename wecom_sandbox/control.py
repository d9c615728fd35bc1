"""The control API under `/sandbox/`: drive the simulated world and inspect it.

JSON in and out, our own shapes (not WeCom's). Errors answer {"error": "..."} with 400
(bad request), 404 (unknown corp / member / ...), 405 or 409; a WeCom rule broken by a
control request also carries its "errcode". The endpoint list is in docs/wecom-sandbox.md.
"""

import itertools
import re
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wecom_sandbox import identifiers, jssdk, persistence, seeding, simulation
from wecom_sandbox.callbacks import event_xml
from wecom_sandbox.errors import WeComError
from wecom_sandbox.faults import FaultConfig
from wecom_sandbox.load import scan_rows
from wecom_sandbox.ratelimit import LimitConfig, parse_windows
from wecom_sandbox.records import App, Customer, Follow
from wecom_sandbox.sandbox import QuotaSettings, Sandbox
from wecom_sandbox.state import CONTACTS_SYNC, CUSTOMER_CONTACT, Corp
from wecom_sandbox.wecom_api.customers import external_contact_json, follow_user_json
from wecom_sandbox.wecom_api.directory import member_json

AES_KEY = re.compile(r"^[A-Za-z0-9]{43}$")
DEFAULT_APPS: list[dict[str, Any]] = [
    {"name": CUSTOMER_CONTACT, "agent_id": 1000002},
    {"name": CONTACTS_SYNC},
]


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ControlRequest:
    params: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any]

    def corp(self, sb: Sandbox) -> Corp:
        return sb.state.corp(self.params["corp"])

    def require(self, name: str) -> Any:
        if name not in self.body or self.body[name] in (None, ""):
            raise ControlError(400, f"{name} is required")
        return self.body[name]


ControlHandler = Callable[[Sandbox, ControlRequest], dict[str, Any]]


@dataclass(frozen=True)
class ControlRoute:
    method: str
    pattern: re.Pattern[str]
    handler: ControlHandler
    locked: bool


ROUTES: list[ControlRoute] = []


def control(
    method: str, path: str, *, locked: bool = True
) -> Callable[[ControlHandler], ControlHandler]:
    """Register `method path`; `{name}` segments become params. `locked` handlers run with
    the state lock held (the others do network or file I/O and lock what they need)."""
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "/?$")

    def register(handler: ControlHandler) -> ControlHandler:
        ROUTES.append(ControlRoute(method, pattern, handler, locked))
        return handler

    return register


def handle_control(
    sb: Sandbox, method: str, path: str, query: dict[str, str], body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    matched_path = False
    for route in ROUTES:
        match = route.pattern.match(path)
        if match is None:
            continue
        matched_path = True
        if route.method != method:
            continue
        request = ControlRequest(match.groupdict(), query, body)
        try:
            if route.locked:
                with sb.state.lock:
                    sb.settle()
                    return 200, route.handler(sb, request)
            return 200, route.handler(sb, request)
        except ControlError as error:
            return error.status, {"error": error.message}
        except WeComError as error:
            return 400, {"error": error.text(), "errcode": error.errcode}
        except LookupError as error:
            return 404, {"error": str(error.args[0] if error.args else error)}
        except (ValueError, TypeError) as error:
            return 400, {"error": str(error)}
    if matched_path:
        return 405, {"error": f"method {method} not allowed on {path}"}
    return 404, {"error": f"no control endpoint {path}"}


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --- sandbox-wide ---------------------------------------------------------------------


@control("GET", "/sandbox/health", locked=False)
def health(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return {"ok": True, "now": sb.now(), "clock_offset": sb.clock.offset}


@control("POST", "/sandbox/reset", locked=False)
def reset(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    sb.reset()
    return {"ok": True}


@control("GET", "/sandbox/stats")
def stats(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return {
        "rss_mb": _rss_mb(),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "tokens": len(sb.state.tokens),
        "corps": {corp_id: corp.counts() for corp_id, corp in sb.state.corps.items()},
    }


@control("GET", "/sandbox/clock")
def clock(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return {"now": sb.now(), "offset": sb.clock.offset}


@control("POST", "/sandbox/clock/advance")
def advance_clock(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    sb.clock.advance(float(request.require("seconds")))
    sb.settle()
    return {"now": sb.now(), "offset": sb.clock.offset}


@control("GET", "/sandbox/limits")
def get_limits(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return {**sb.limiter.config.to_json(), **sb.quotas.to_json()}


@control("POST", "/sandbox/limits")
def set_limits(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """Frequency limits and quotas. Omitted keys keep their value; `"defaults": true`
    first restores WeCom's defaults."""
    body = request.body
    config = LimitConfig() if body.get("defaults") else sb.limiter.config
    per_corp = parse_windows(body["per_corp"]) if "per_corp" in body else config.per_corp
    per_ip = parse_windows(body["per_ip"]) if "per_ip" in body else config.per_ip
    per_api = dict(config.per_api)
    for path, spec in (body.get("per_api") or {}).items():
        if spec is None:
            per_api.pop(path, None)
        else:
            per_api[path] = parse_windows(spec)
    sb.limiter.configure(LimitConfig(per_corp=per_corp, per_ip=per_ip, per_api=per_api))
    if body.get("defaults"):
        sb.quotas = QuotaSettings()
    sb.quotas.update(body)
    return get_limits(sb, request)


@control("GET", "/sandbox/faults")
def get_faults(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """The fault configuration, and what was injected since it was set."""
    return {**sb.faults.config.to_json(), "injected": sb.faults.injected()}


@control("POST", "/sandbox/faults")
def set_faults(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """Replace the fault configuration ({} clears every fault)."""
    sb.faults.configure(FaultConfig.from_json(request.body))
    return sb.faults.config.to_json()


@control("GET", "/sandbox/callback_settings")
def get_callback_settings(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return sb.callback_settings.to_json()


@control("POST", "/sandbox/callback_settings")
def set_callback_settings(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    sb.callback_settings.update(request.body)
    return sb.callback_settings.to_json()


@control("POST", "/sandbox/state/save", locked=False)
def save_state(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return persistence.save(sb, str(request.require("path")))


@control("POST", "/sandbox/state/load", locked=False)
def load_state(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    path = str(request.require("path"))
    if not Path(path).is_file():
        raise ControlError(404, f"no state file {path}")
    return persistence.load(sb, path)


# --- corps and apps ---------------------------------------------------------------------


def _app_json(app: App) -> dict[str, Any]:
    return {
        "name": app.name,
        "agent_id": app.agent_id,
        "secret": app.secret,
        "callback_url": app.callback_url,
        "token": app.token,
        "encoding_aes_key": app.encoding_aes_key,
    }


def _corp_json(corp: Corp) -> dict[str, Any]:
    return {
        "corp_id": corp.corp_id,
        "name": corp.name,
        "apps": {name: _app_json(app) for name, app in corp.apps.items()},
        "counts": corp.counts(),
    }


def _put_app(corp: Corp, spec: dict[str, Any]) -> App:
    name = spec.get("name")
    if not name or not isinstance(name, str):
        raise ControlError(400, "app name is required")
    aes_key = spec.get("encoding_aes_key")
    if aes_key is not None and not AES_KEY.match(aes_key):
        raise ControlError(400, "encoding_aes_key is exactly 43 letters and digits")
    app = corp.apps.get(name)
    if app is None:
        default_agent = 1000002 if name == CUSTOMER_CONTACT else None
        app = App(
            name,
            spec.get("agent_id", default_agent),
            spec.get("secret") or identifiers.secret(),
            spec.get("callback_url") or "",
            spec.get("token") or identifiers.callback_token(),
            aes_key or identifiers.encoding_aes_key(),
        )
        corp.apps[name] = app
        return app
    for field in ("agent_id", "secret", "callback_url", "token", "encoding_aes_key"):
        if field in spec and spec[field] is not None:
            setattr(app, field, spec[field])
    return app


@control("POST", "/sandbox/corps")
def create_corp(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """A corp with its apps (default: customer_contact with agent 1000002, and
    contacts_sync); secrets, callback tokens and AES keys are generated when omitted."""
    corp_id = request.body.get("corp_id") or identifiers.corp_id()
    if corp_id in sb.state.corps:
        raise ControlError(409, f"corp {corp_id} exists")
    corp = Corp(corp_id, request.body.get("name") or "沙箱企业")
    for spec in request.body.get("apps") or DEFAULT_APPS:
        _put_app(corp, spec)
    sb.state.corps[corp_id] = corp
    return _corp_json(corp)


@control("GET", "/sandbox/corps/{corp}")
def get_corp(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return _corp_json(request.corp(sb))


@control("POST", "/sandbox/corps/{corp}/apps")
def put_app(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """Create an app, or update its callback settings / secret."""
    return _app_json(_put_app(request.corp(sb), request.body))


@control("POST", "/sandbox/corps/{corp}/apps/{app}/verify_url", locked=False)
def verify_url(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    with sb.state.lock:
        app = request.corp(sb).app(request.params["app"])
        snapshot = App(
            app.name, app.agent_id, app.secret, app.callback_url, app.token, app.encoding_aes_key
        )
    if not snapshot.callback_url:
        raise ControlError(409, f"app {snapshot.name} has no callback_url")
    return sb.dispatcher.verify_url(snapshot, request.params["corp"])


# --- contact book -----------------------------------------------------------------------


@control("POST", "/sandbox/corps/{corp}/departments")
def add_department(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    body = request.body
    department = simulation.add_department(
        request.corp(sb),
        id=body.get("id"),
        name=str(request.require("name")),
        parentid=int(body.get("parentid", 1)),
        order=int(body.get("order", 0)),
    )
    return {"id": department.id, "name": department.name, "parentid": department.parentid}


@control("POST", "/sandbox/corps/{corp}/members")
def add_member(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    body = request.body
    member = simulation.add_member(
        sb,
        request.corp(sb),
        userid=str(request.require("userid")),
        name=str(body.get("name") or ""),
        department=list(body.get("department") or [1]),
        position=str(body.get("position") or ""),
        gender=int(body.get("gender", 0)),
        customer_contact=bool(body.get("customer_contact", True)),
        notify=bool(body.get("notify", True)),
    )
    return member_json(member)


@control("GET", "/sandbox/corps/{corp}/members/{userid}")
def get_member(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    corp = request.corp(sb)
    member = corp.members.get(request.params["userid"])
    if member is None:
        raise LookupError(f"no member {request.params['userid']!r}")
    return {
        **member_json(member),
        "customer_contact": member.customer_contact,
        "dimission_time": member.dimission_time,
        "customers": len(member.follows),
    }


@control("POST", "/sandbox/corps/{corp}/members/{userid}/rename")
def rename_member(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return simulation.rename_member(
        sb,
        request.corp(sb),
        userid=request.params["userid"],
        new_userid=str(request.require("new_userid")),
    )


@control("POST", "/sandbox/corps/{corp}/members/{userid}/update")
def update_member(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    body = request.body
    department = body.get("department")
    return simulation.update_member(
        sb,
        request.corp(sb),
        userid=request.params["userid"],
        name=body.get("name"),
        department=[int(d) for d in department] if department is not None else None,
        position=body.get("position"),
    )


@control("POST", "/sandbox/corps/{corp}/members/{userid}/half_add")
def half_add(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    body = request.body
    return simulation.half_add(
        sb,
        request.corp(sb),
        userid=request.params["userid"],
        external_userid=body.get("external_userid"),
        name=body.get("name"),
        state=str(body.get("state") or ""),
    )


@control("POST", "/sandbox/corps/{corp}/members/{userid}/leave")
def member_leaves(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return simulation.member_leaves(sb, request.corp(sb), userid=request.params["userid"])


@control("POST", "/sandbox/corps/{corp}/members/{userid}/delete_customer")
def member_deletes_customer(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return simulation.member_deletes_customer(
        sb,
        request.corp(sb),
        userid=request.params["userid"],
        external_userid=str(request.require("external_userid")),
    )


@control("GET", "/sandbox/corps/{corp}/members/{userid}/messages")
def member_messages(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    corp = request.corp(sb)
    return {"messages": corp.member_messages.get(request.params["userid"], [])}


@control("POST", "/sandbox/corps/{corp}/seed")
def seed(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    body = request.body
    return seeding.seed(
        request.corp(sb),
        now=sb.now(),
        members=int(body.get("members", 0)),
        departments=int(body.get("departments", 0)),
        customers=int(body.get("customers", 0)),
        follows_per_customer=int(body.get("follows_per_customer", 1)),
        member_prefix=str(body.get("member_prefix") or "guide"),
        states=body.get("states"),
        days=int(body.get("days", 365)),
        random_seed=body.get("random_seed"),
    )


# --- customers --------------------------------------------------------------------------


@control("POST", "/sandbox/corps/{corp}/customers")
def add_customer(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """Put a customer and its follows in place directly, without callbacks (fixtures)."""
    corp = request.corp(sb)
    body = request.body
    external_userid = body.get("external_userid") or identifiers.external_userid()
    if external_userid in corp.customers:
        raise ControlError(409, f"customer {external_userid} exists")
    follows = body.get("follows") or []
    for spec in follows:
        corp.member(spec.get("userid"))
        for tag_id in spec.get("tag_ids") or []:
            if tag_id not in corp.tags:
                raise ControlError(400, f"no corp tag {tag_id}")
    customer = Customer(
        external_userid,
        body.get("name") or f"客户{external_userid[-6:]}",
        body.get("avatar"),
        int(body.get("type", 1)),
        int(body.get("gender", 0)),
        body.get("unionid"),
        body.get("extra"),
    )
    corp.add_customer(customer)
    now = sb.now()
    for spec in follows:
        corp.add_follow(
            Follow(
                external_userid,
                spec["userid"],
                int(spec.get("createtime") or now),
                add_way=int(spec.get("add_way", 1)),
                state=str(spec.get("state") or ""),
                oper_userid=str(spec.get("oper_userid") or external_userid),
                remark=str(spec.get("remark") or ""),
                description=str(spec.get("description") or ""),
                remark_corp_name=str(spec.get("remark_corp_name") or ""),
                remark_mobiles=tuple(spec.get("remark_mobiles") or ()),
                tag_ids=tuple(spec.get("tag_ids") or ()),
            )
        )
    return _customer_json(corp, customer)


def _customer_json(corp: Corp, customer: Customer) -> dict[str, Any]:
    return {
        **external_contact_json(customer),
        "follows": [follow_user_json(corp, f) for f in customer.follows],
    }


@control("GET", "/sandbox/corps/{corp}/customers")
def list_customers(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """external_userids, of one member (`?userid=`) or of the corp; `offset`, `limit`."""
    corp = request.corp(sb)
    offset = int(request.query.get("offset", 0))
    limit = min(int(request.query.get("limit", 100)), 10_000)
    userid = request.query.get("userid")
    if userid:
        member = corp.members.get(userid)
        if member is None:
            raise LookupError(f"no member {userid!r}")
        source: Any = member.follows
    else:
        source = corp.customers
    ids = list(itertools.islice(iter(source), offset, offset + limit))
    return {"external_userids": ids, "total": len(source)}


@control("GET", "/sandbox/corps/{corp}/snapshot")
def snapshot(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """The corp's contact book in compact rows, to compare a sync against. Relations are
    paged (`offset`, `limit` up to 100,000) in a stable order; the rest comes whole on the
    first page.

    relations: [userid, external_userid, remark, description, remark_mobiles, add_way,
                state, createtime, tag_ids]; customers: [external_userid, name, type,
                gender, unionid]
    """
    corp = request.corp(sb)
    offset = int(request.query.get("offset", 0))
    limit = min(int(request.query.get("limit", 100_000)), 100_000)
    members = [m for m in corp.members.values() if m.active and m.customer_contact]
    relations: list[list[Any]] = []
    skipped = 0
    total = 0
    for member in members:
        size = len(member.follows)
        total += size
        if skipped + size <= offset or len(relations) >= limit:
            skipped += size
            continue
        start = max(0, offset - skipped)
        skipped += size
        for follow in itertools.islice(member.follows.values(), start, None):
            if len(relations) >= limit:
                break
            relations.append(
                [
                    follow.userid,
                    follow.external_userid,
                    follow.remark,
                    follow.description,
                    list(follow.remark_mobiles),
                    follow.add_way,
                    follow.state or "",
                    follow.createtime,
                    sorted(corp.live_tag_ids(follow)),
                ]
            )
    result: dict[str, Any] = {"relations": relations, "relations_total": total}
    if offset == 0:
        result["members"] = [
            {
                "userid": m.userid,
                "name": m.name,
                "department": list(m.department),
                "active": m.active,
                "customer_contact": m.customer_contact,
            }
            for m in corp.members.values()
        ]
        result["departments"] = [
            {"id": d.id, "name": d.name, "parentid": d.parentid} for d in corp.departments.values()
        ]
        followed = {r for m in members for r in m.follows}
        result["customers"] = [
            [c.external_userid, c.name, c.type, c.gender, c.unionid or ""]
            for c in corp.customers.values()
            if c.external_userid in followed
        ]
        result["group_chats"] = [
            {
                "chat_id": chat.chat_id,
                "name": chat.name,
                "owner": chat.owner,
                "members": sorted(str(m.get("userid")) for m in chat.members),
            }
            for chat in corp.group_chats.values()
        ]
    return result


@control("GET", "/sandbox/corps/{corp}/customers/{external_userid}")
def get_customer(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    corp = request.corp(sb)
    customer = corp.customers.get(request.params["external_userid"])
    if customer is None:
        raise LookupError(f"no customer {request.params['external_userid']!r}")
    return _customer_json(corp, customer)


@control("POST", "/sandbox/corps/{corp}/customers/{external_userid}/delete_member")
def customer_deletes_member(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return simulation.customer_deletes_member(
        sb,
        request.corp(sb),
        external_userid=request.params["external_userid"],
        userid=str(request.require("userid")),
    )


@control("GET", "/sandbox/corps/{corp}/customers/{external_userid}/received")
def received(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """What reached the customer: welcome messages, group messages, transfer messages."""
    corp = request.corp(sb)
    items = [r.to_json() for r in corp.received.get(request.params["external_userid"], [])]
    return {
        "messages": items,
        "welcome": [m for m in items if m["kind"] == "welcome"],
        "group_messages": [m for m in items if m["kind"] == "group_msg"],
    }


@control("POST", "/sandbox/corps/{corp}/relations/edit")
def edit_relation(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    body = request.body
    return simulation.edit_relation(
        sb,
        request.corp(sb),
        userid=str(request.require("userid")),
        external_userid=str(request.require("external_userid")),
        add_tag=list(body.get("add_tag") or []),
        remove_tag=list(body.get("remove_tag") or []),
        remark=body.get("remark"),
        description=body.get("description"),
    )


@control("POST", "/sandbox/corps/{corp}/scan")
def scan(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    body = request.body
    return simulation.scan(
        sb,
        request.corp(sb),
        config_id=str(request.require("config_id")),
        external_userid=body.get("external_userid"),
        name=body.get("name"),
        userid=body.get("userid"),
        gender=int(body.get("gender", 0)),
        unionid=body.get("unionid"),
        avatar=body.get("avatar"),
        welcome_code=bool(body.get("welcome_code", True)),
    )


@control("POST", "/sandbox/corps/{corp}/scan_load")
def start_scan_load(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """Fire `rate` scans per second for `seconds` from a sandbox thread (see load.py);
    answers at once with the load's id."""
    load = sb.scan_loads.start(
        sb,
        corp_id=request.corp(sb).corp_id,
        config_id=str(request.require("config_id")),
        rate=float(request.require("rate")),
        seconds=float(request.require("seconds")),
        name_prefix=str(request.body.get("name_prefix") or "客户"),
    )
    return load.to_json()


@control("GET", "/sandbox/corps/{corp}/scan_load/{load_id}", locked=False)
def get_scan_load(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """How far the load got; `?rows=1` adds what became of every scan fired so far."""
    load = sb.scan_loads.get(int(request.params["load_id"]))
    if load.corp_id != request.params["corp"]:
        raise LookupError(f"no scan load {load.id} in corp {request.params['corp']!r}")
    answer = load.to_json()
    if request.query.get("rows") not in (None, "", "0", "false"):
        with sb.state.lock:
            answer["scans"] = scan_rows(sb, load)
    return answer


# --- transfers, group sends, group chats, tags ----------------------------------------


@control("GET", "/sandbox/corps/{corp}/transfers")
def list_transfers(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    corp = request.corp(sb)
    external_userid = request.query.get("external_userid")
    return {
        "transfers": [
            {
                "kind": t.kind,
                "external_userid": t.external_userid,
                "handover_userid": t.handover,
                "takeover_userid": t.takeover,
                "status": t.status,
                "started_at": t.started_at,
                "takeover_time": t.takeover_time,
            }
            for t in corp.transfers
            if external_userid in (None, t.external_userid)
        ]
    }


@control("POST", "/sandbox/corps/{corp}/transfers/decide")
def decide_transfer(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return simulation.decide_transfer(
        sb,
        request.corp(sb),
        external_userid=str(request.require("external_userid")),
        outcome=str(request.require("outcome")),
        handover_userid=request.body.get("handover_userid"),
    )


@control("GET", "/sandbox/corps/{corp}/msg_templates")
def list_templates(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """Every template of the corp in creation order, without targets (`offset`, `limit` up
    to 10,000): to count templates created per sender at any size."""
    corp = request.corp(sb)
    offset = int(request.query.get("offset", 0))
    limit = min(int(request.query.get("limit", 1000)), 10_000)
    items = []
    for template in itertools.islice(corp.templates.values(), offset, offset + limit):
        items.append(
            {
                "msgid": template.msgid,
                "chat_type": template.chat_type,
                "creator": template.creator,
                "create_time": template.create_time,
                "cancelled": template.cancelled,
                "targets": sum(len(r) for r in template.results.values()),
                "sent": sum(1 for r in template.results.values() for v in r.values() if v[0] == 1),
            }
        )
    return {"templates": items, "total": len(corp.templates)}


@control("GET", "/sandbox/corps/{corp}/group_messages")
def group_messages(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """Who received group messages and which (msgids, one per message received), in bulk:
    `[[target, [msgid, ...]], ...]` for the customers and chats that received any
    (`offset`, `limit` up to 100,000), so a million recipients are checked in a few calls."""
    corp = request.corp(sb)
    offset = int(request.query.get("offset", 0))
    limit = min(int(request.query.get("limit", 10_000)), 100_000)
    receivers = (
        (target, [r.msgid for r in items if r.kind == "group_msg"])
        for target, items in corp.received.items()
    )
    having = ([target, msgids] for target, msgids in receivers if msgids)
    rows = list(itertools.islice(having, offset, offset + limit))
    return {"received": rows, "more": next(having, None) is not None}


@control("GET", "/sandbox/corps/{corp}/receipts")
def receipts(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """What reached customers and chats, of one `kind` (welcome, group_msg,
    transfer_success_msg, chat_message), in bulk: `[[target, [[sender, at, msgid], ...]],
    ...]` for the targets that received any (`offset`, `limit` up to 100,000). A welcome
    received twice shows as two entries."""
    corp = request.corp(sb)
    kind = request.query.get("kind") or "welcome"
    offset = int(request.query.get("offset", 0))
    limit = min(int(request.query.get("limit", 10_000)), 100_000)
    receivers = (
        (target, [[r.sender, r.at, r.msgid] for r in items if r.kind == kind])
        for target, items in corp.received.items()
    )
    having = ([target, entries] for target, entries in receivers if entries)
    rows = list(itertools.islice(having, offset, offset + limit))
    return {"received": rows, "more": next(having, None) is not None}


@control("GET", "/sandbox/corps/{corp}/msg_templates/{msgid}")
def get_template(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    template = request.corp(sb).templates.get(request.params["msgid"])
    if template is None:
        raise LookupError(f"no msg template {request.params['msgid']!r}")
    return {
        "msgid": template.msgid,
        "chat_type": template.chat_type,
        "creator": template.creator,
        "create_time": template.create_time,
        "cancelled": template.cancelled,
        "text": template.text,
        "attachments": template.attachments,
        "tasks": template.tasks,
        "results": template.results,
    }


@control("POST", "/sandbox/corps/{corp}/msg_templates/{msgid}/confirm")
def confirm_template(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return simulation.confirm_template(
        sb,
        request.corp(sb),
        msgid=request.params["msgid"],
        userid=request.body.get("userid"),
        skip=request.body.get("skip"),
    )


@control("POST", "/sandbox/corps/{corp}/group_chats")
def create_group_chat(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    body = request.body
    return simulation.create_group_chat(
        sb,
        request.corp(sb),
        owner=str(request.require("owner")),
        name=str(body.get("name") or ""),
        members=list(body.get("members") or []),
        external_userids=list(body.get("external_userids") or []),
        notice=str(body.get("notice") or ""),
        chat_id=body.get("chat_id"),
    )


@control("POST", "/sandbox/corps/{corp}/group_chats/{chat_id}/members")
def change_group_members(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    body = request.body
    return simulation.change_group_members(
        sb,
        request.corp(sb),
        chat_id=request.params["chat_id"],
        add_members=list(body.get("add_members") or []),
        add_external_userids=list(body.get("add_external_userids") or []),
        remove=list(body.get("remove") or []),
    )


@control("POST", "/sandbox/corps/{corp}/console/corp_tags")
def console_corp_tags(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    return simulation.console_tags(sb, request.corp(sb), request.body)


# --- callbacks --------------------------------------------------------------------------


@control("GET", "/sandbox/corps/{corp}/callbacks", locked=False)
def callbacks(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """Every delivery (event, plaintext XML, attempts with status and latency)."""
    return {
        "deliveries": sb.dispatcher.deliveries(
            request.params["corp"],
            since_id=int(request.query.get("since_id", 0)),
            change_type=request.query.get("change_type"),
        )
    }


@control("POST", "/sandbox/corps/{corp}/callbacks/send")
def send_raw_event(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """Send any event: {"app": "customer_contact", "fields": {"Event": ..., ...}} (for
    events the simulation does not produce, e.g. msg_audit_approved)."""
    corp = request.corp(sb)
    fields = request.require("fields")
    if not isinstance(fields, dict) or "Event" not in fields:
        raise ControlError(400, "fields must be an object with Event")
    kind = request.body.get("app") or CUSTOMER_CONTACT
    delivery = sb.emit(corp, kind, fields)
    return {"delivery_id": delivery, "xml": event_xml(corp.corp_id, sb.now(), fields)}


# --- the client: OAuth2, JS-SDK ------------------------------------------------------------


@control("PUT", "/sandbox/corps/{corp}/trusted_domains")
def put_trusted_domains(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """The corp's verified domains (OAuth2 redirects, JS-SDK pages): {"domains": [...]}."""
    domains = request.require("domains")
    if not isinstance(domains, list) or not all(isinstance(d, str) and d for d in domains):
        raise ControlError(400, "domains is a list of host names")
    state = jssdk.state_of(request.corp(sb))
    state.trusted_domains = [d.strip().lower() for d in domains]
    return {"domains": state.trusted_domains}


@control("POST", "/sandbox/corps/{corp}/oauth/code")
def issue_oauth_code(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """A code for member {"userid"}, as the authorize page would redirect with."""
    corp = request.corp(sb)
    userid = str(request.require("userid"))
    member = corp.members.get(userid)
    if member is None or not member.active:
        raise ControlError(404, f"no active member {userid}")
    return {"code": jssdk.code_issue(corp, userid, sb.now())}


@control("POST", "/sandbox/corps/{corp}/jssdk/call")
def jssdk_call(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """One JS-SDK call of a page in the chat window (see client_pages.py)."""
    body = request.body
    args = body.get("args") or {}
    if not isinstance(args, dict):
        raise ControlError(400, "args is an object")
    return jssdk.page_call(
        request.corp(sb),
        page=str(body.get("page") or ""),
        userid=str(request.require("userid")),
        external_userid=str(body.get("external_userid") or ""),
        method=str(request.require("method")),
        args=args,
        url=str(body.get("url") or ""),
        now=sb.now(),
    )


@control("GET", "/sandbox/corps/{corp}/jssdk/calls")
def jssdk_calls(sb: Sandbox, request: ControlRequest) -> dict[str, Any]:
    """Every JS-SDK call pages made, oldest first (sendChatMessage is the guide's send)."""
    return {"calls": jssdk.state_of(request.corp(sb)).calls}
