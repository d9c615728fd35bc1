"""Start the sandbox as a subprocess and drive it: for the project's tests, benchmarks and
demo.

    with SandboxProcess.start() as sandbox:
        control = sandbox.control
        corp = control.create_corp(corp_id="wwdemo")
        secret = corp["apps"]["customer_contact"]["secret"]
        client = wechatpy_client(sandbox.api_base_url, "wwdemo", secret)
"""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import urlencode

import requests

PACKAGE_PARENT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class SandboxStartError(RuntimeError):
    pass


class SandboxProcess:
    """A running `python -m wecom_sandbox` subprocess."""

    def __init__(
        self, process: subprocess.Popen[bytes], host: str, port: int, state_file: str | None
    ) -> None:
        self.process = process
        self.host = host
        self.port = port
        self.state_file = state_file
        self.control = SandboxControl(self.url)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base_url(self) -> str:
        """What WeComCorp.api_base_url / wechatpy's API_BASE_URL should be."""
        return self.url + "/cgi-bin/"

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(
        cls,
        port: int | None = None,
        state_file: str | os.PathLike[str] | None = None,
        *,
        host: str = "127.0.0.1",
        timeout: float = DEFAULT_TIMEOUT,
        verbose: bool = False,
        extra_args: Iterable[str] = (),
        stderr: IO[bytes] | None = None,
    ) -> "SandboxProcess":
        """Spawn the sandbox and wait until it answers. A free port is picked when `port`
        is None (and another one tried if it was taken meanwhile). `stderr`: a file for the
        sandbox's logs (default: this process's stderr)."""
        attempts = 3 if port is None else 1
        last_error: Exception | None = None
        for _ in range(attempts):
            chosen = port if port is not None else free_port(host)
            try:
                return cls._spawn(
                    host, chosen, state_file, timeout, verbose, list(extra_args), stderr
                )
            except SandboxStartError as error:
                last_error = error
        raise SandboxStartError(f"the sandbox did not start: {last_error}")

    @classmethod
    def _spawn(
        cls,
        host: str,
        port: int,
        state_file: str | os.PathLike[str] | None,
        timeout: float,
        verbose: bool,
        extra_args: list[str],
        stderr: IO[bytes] | None = None,
    ) -> "SandboxProcess":
        command = [sys.executable, "-m", "wecom_sandbox", "--host", host, "--port", str(port)]
        if state_file is not None:
            command += ["--state", os.fspath(state_file)]
        if verbose:
            command.append("--verbose")
        command += extra_args
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH", "")])
        )
        env["PYTHONUNBUFFERED"] = "1"
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=stderr, env=env
        )
        ready = threading.Event()

        def drain() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                if b"listening on" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=drain, name=f"sandbox-{port}-stdout", daemon=True).start()
        sandbox = cls(process, host, port, None if state_file is None else os.fspath(state_file))
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if time.monotonic() > deadline:
                sandbox.stop()
                raise SandboxStartError(f"no 'listening' line within {timeout}s")
        if process.poll() is not None:
            raise SandboxStartError(f"exited with {process.returncode} (port {port} taken?)")
        while True:
            try:
                sandbox.control.health()
                return sandbox
            except requests.RequestException as error:
                if time.monotonic() > deadline or process.poll() is not None:
                    sandbox.stop()
                    raise SandboxStartError(f"not answering: {error}") from error
                time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (the sandbox saves --state), then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class SandboxControlError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class SandboxControl:
    """Typed client for the control API (`/sandbox/...`). Every call has a timeout."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        response = self.session.request(
            method,
            f"{self.url}/sandbox/{path}",
            json=body,
            params={k: v for k, v in (params or {}).items() if v is not None},
            timeout=timeout or self.timeout,
        )
        data: dict[str, Any] = response.json()
        if response.status_code != 200:
            raise SandboxControlError(response.status_code, data)
        return data

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        return self._call("GET", path, params=params)

    def _post(self, path: str, body: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        return self._call("POST", path, body or {}, **kwargs)

    # --- sandbox-wide -----------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health", timeout=2.0)

    def reset(self) -> None:
        self._post("reset")

    def stats(self) -> dict[str, Any]:
        return self._get("stats")

    def clock(self) -> dict[str, Any]:
        return self._get("clock")

    def now(self) -> int:
        return int(self.clock()["now"])

    def advance_clock(self, seconds: float) -> int:
        """Move the sandbox clock forward; returns the new sandbox time."""
        return int(self._post("clock/advance", {"seconds": seconds})["now"])

    def get_limits(self) -> dict[str, Any]:
        return self._get("limits")

    def set_limits(
        self,
        *,
        per_corp: dict[str, Any] | list[dict[str, Any]] | None = None,
        per_ip: dict[str, Any] | list[dict[str, Any]] | None = None,
        per_api: dict[str, Any] | None = None,
        defaults: bool = False,
        **quotas: Any,
    ) -> dict[str, Any]:
        """Frequency windows ({"limit": 5, "window_seconds": 2} or a list of them) and
        quotas (token_ttl_seconds, contact_way_quota, corp_tag_limit,
        group_msg_monthly_cap, temp_contact_ways_per_day, contact_way_max_users)."""
        body: dict[str, Any] = {"defaults": defaults, **quotas}
        if per_corp is not None:
            body["per_corp"] = per_corp
        if per_ip is not None:
            body["per_ip"] = per_ip
        if per_api is not None:
            body["per_api"] = per_api
        return self._post("limits", body)

    def get_faults(self) -> dict[str, Any]:
        return self._get("faults")

    def set_faults(
        self, apis: dict[str, dict[str, Any]] | None = None, drop_callbacks: float = 0.0
    ) -> dict[str, Any]:
        """Replace all faults. apis: {"<path>" or "*": {"error_rate", "errcode", "errcodes",
        "errmsg", "latency_ms", "latency_rate", "reply_latency_ms", "http_error_rate",
        "http_status", "http_statuses", "times"}}. `get_faults()["injected"]` counts what
        was injected since."""
        return self._post("faults", {"apis": apis or {}, "drop_callbacks": drop_callbacks})

    def clear_faults(self) -> None:
        self._post("faults", {})

    def set_callback_settings(
        self,
        *,
        timeout_seconds: float | None = None,
        attempts: int | None = None,
        retry_interval_seconds: float | None = None,
    ) -> dict[str, Any]:
        body = {
            "timeout_seconds": timeout_seconds,
            "attempts": attempts,
            "retry_interval_seconds": retry_interval_seconds,
        }
        return self._post("callback_settings", {k: v for k, v in body.items() if v is not None})

    def save_state(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        return self._post("state/save", {"path": os.fspath(path)}, timeout=600)

    def load_state(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        return self._post("state/load", {"path": os.fspath(path)}, timeout=600)

    # --- corps and apps ---------------------------------------------------------------

    def create_corp(
        self,
        corp_id: str | None = None,
        name: str | None = None,
        apps: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """apps: [{"name", "agent_id", "secret", "callback_url", "token",
        "encoding_aes_key"}]; default customer_contact (agent 1000002) + contacts_sync."""
        body: dict[str, Any] = {"corp_id": corp_id, "name": name}
        if apps is not None:
            body["apps"] = apps
        return self._post("corps", body)

    def corp(self, corp_id: str) -> dict[str, Any]:
        return self._get(f"corps/{corp_id}")

    def put_app(self, corp_id: str, name: str, **settings: Any) -> dict[str, Any]:
        return self._post(f"corps/{corp_id}/apps", {"name": name, **settings})

    def set_callback(
        self,
        corp_id: str,
        app: str,
        url: str,
        token: str | None = None,
        encoding_aes_key: str | None = None,
    ) -> dict[str, Any]:
        return self.put_app(
            corp_id, app, callback_url=url, token=token, encoding_aes_key=encoding_aes_key
        )

    def verify_url(self, corp_id: str, app: str) -> dict[str, Any]:
        """Send WeCom's echostr GET to the app's callback URL; `matched` tells the result."""
        return self._post(f"corps/{corp_id}/apps/{app}/verify_url")

    # --- contact book -----------------------------------------------------------------

    def add_department(
        self, corp_id: str, name: str, parentid: int = 1, id: int | None = None, order: int = 0
    ) -> dict[str, Any]:
        return self._post(
            f"corps/{corp_id}/departments",
            {"name": name, "parentid": parentid, "id": id, "order": order},
        )

    def add_member(
        self,
        corp_id: str,
        userid: str,
        name: str = "",
        department: list[int] | None = None,
        *,
        customer_contact: bool = True,
        notify: bool = True,
        position: str = "",
        gender: int = 0,
    ) -> dict[str, Any]:
        """Admin adds a member (sends change_contact/create_user unless notify=False)."""
        return self._post(
            f"corps/{corp_id}/members",
            {
                "userid": userid,
                "name": name,
                "department": department or [1],
                "customer_contact": customer_contact,
                "notify": notify,
                "position": position,
                "gender": gender,
            },
        )

    def member(self, corp_id: str, userid: str) -> dict[str, Any]:
        return self._get(f"corps/{corp_id}/members/{userid}")

    def seed(
        self,
        corp_id: str,
        *,
        members: int = 0,
        departments: int = 0,
        customers: int = 0,
        follows_per_customer: int = 1,
        member_prefix: str = "guide",
        states: list[str] | None = None,
        days: int = 365,
        random_seed: int | None = None,
        timeout: float = 600,
    ) -> dict[str, Any]:
        """Bulk members (userids <prefix>00001...) and customers, no callbacks."""
        return self._post(
            f"corps/{corp_id}/seed",
            {
                "members": members,
                "departments": departments,
                "customers": customers,
                "follows_per_customer": follows_per_customer,
                "member_prefix": member_prefix,
                "states": states,
                "days": days,
                "random_seed": random_seed,
            },
            timeout=timeout,
        )

    def rename_member(self, corp_id: str, userid: str, new_userid: str) -> dict[str, Any]:
        return self._post(f"corps/{corp_id}/members/{userid}/rename", {"new_userid": new_userid})

    def update_member(self, corp_id: str, userid: str, **fields: Any) -> dict[str, Any]:
        """Admin edits name / department / position: change_contact/update_user."""
        return self._post(f"corps/{corp_id}/members/{userid}/update", fields)

    def half_add(
        self, corp_id: str, userid: str, external_userid: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A customer adds a 免验证 member: add_half_external_contact."""
        return self._post(
            f"corps/{corp_id}/members/{userid}/half_add",
            {"external_userid": external_userid, **fields},
        )

    def snapshot(self, corp_id: str, offset: int = 0, limit: int = 100_000) -> dict[str, Any]:
        """The corp's members, customers, relations (paged) and group chats, compactly."""
        return self._get(f"corps/{corp_id}/snapshot", offset=offset, limit=limit)

    def member_leaves(self, corp_id: str, userid: str) -> dict[str, Any]:
        return self._post(f"corps/{corp_id}/members/{userid}/leave")

    def member_deletes_customer(
        self, corp_id: str, userid: str, external_userid: str
    ) -> dict[str, Any]:
        return self._post(
            f"corps/{corp_id}/members/{userid}/delete_customer",
            {"external_userid": external_userid},
        )

    def member_messages(self, corp_id: str, userid: str) -> list[dict[str, Any]]:
        """App messages (message/send) and group-send reminders the member received."""
        messages: list[dict[str, Any]] = self._get(f"corps/{corp_id}/members/{userid}/messages")[
            "messages"
        ]
        return messages

    # --- customers --------------------------------------------------------------------

    def add_customer(
        self,
        corp_id: str,
        follows: list[dict[str, Any]],
        external_userid: str | None = None,
        name: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A customer with follows [{"userid", "remark", "state", "add_way",
        "createtime", "tag_ids", ...}], placed directly (no callback)."""
        return self._post(
            f"corps/{corp_id}/customers",
            {"external_userid": external_userid, "name": name, "follows": follows, **fields},
        )

    def customers(
        self, corp_id: str, userid: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[str]:
        ids: list[str] = self._get(
            f"corps/{corp_id}/customers", userid=userid, offset=offset, limit=limit
        )["external_userids"]
        return ids

    def customer(self, corp_id: str, external_userid: str) -> dict[str, Any]:
        return self._get(f"corps/{corp_id}/customers/{external_userid}")

    def scan(
        self,
        corp_id: str,
        config_id: str,
        external_userid: str | None = None,
        name: str | None = None,
        *,
        userid: str | None = None,
        welcome_code: bool = True,
        **fields: Any,
    ) -> dict[str, Any]:
        """A customer (new unless external_userid names one) scans a contact way: returns
        external_userid, userid, state, welcome_code, delivery_id."""
        return self._post(
            f"corps/{corp_id}/scan",
            {
                "config_id": config_id,
                "external_userid": external_userid,
                "name": name,
                "userid": userid,
                "welcome_code": welcome_code,
                **fields,
            },
        )

    def scan_load(
        self,
        corp_id: str,
        config_id: str,
        *,
        rate: float,
        seconds: float,
        name_prefix: str | None = None,
    ) -> dict[str, Any]:
        """The sandbox fires `rate` scans per second for `seconds` at the way, from its own
        thread; returns at once with `load_id` and `planned`."""
        return self._post(
            f"corps/{corp_id}/scan_load",
            {"config_id": config_id, "rate": rate, "seconds": seconds, "name_prefix": name_prefix},
        )

    def scan_load_status(self, corp_id: str, load_id: int, *, rows: bool = False) -> dict[str, Any]:
        """`status` (running / done / stopped), `fired`, `error_count`, `max_lag_ms`; with
        `rows`, `scans`: per scan `fired_at`, `callback_sent_at`, `callback_acked_at`,
        `welcome_at` (wall-clock seconds), `welcomes`, `welcome_calls`, ..."""
        return self._call(
            "GET",
            f"corps/{corp_id}/scan_load/{load_id}",
            params={"rows": 1 if rows else None},
            timeout=120,
        )

    def wait_for_scan_load(
        self, corp_id: str, load_id: int, *, timeout: float = 60.0
    ) -> dict[str, Any]:
        """Poll until every scan of the load was fired."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.scan_load_status(corp_id, load_id)
            if status["status"] != "running":
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"scan load {load_id}: {status['fired']} fired in {timeout}s")
            time.sleep(0.1)

    def customer_deletes_member(
        self, corp_id: str, external_userid: str, userid: str
    ) -> dict[str, Any]:
        return self._post(
            f"corps/{corp_id}/customers/{external_userid}/delete_member", {"userid": userid}
        )

    def edit_relation(
        self,
        corp_id: str,
        userid: str,
        external_userid: str,
        add_tag: Iterable[str] = (),
        remove_tag: Iterable[str] = (),
        remark: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Client-side edit of tags / remark: sends edit_external_contact."""
        return self._post(
            f"corps/{corp_id}/relations/edit",
            {
                "userid": userid,
                "external_userid": external_userid,
                "add_tag": list(add_tag),
                "remove_tag": list(remove_tag),
                "remark": remark,
                "description": description,
            },
        )

    def received(self, corp_id: str, external_userid: str) -> dict[str, Any]:
        """{"messages": [...], "welcome": [...], "group_messages": [...]}, each with `at`."""
        return self._get(f"corps/{corp_id}/customers/{external_userid}/received")

    # --- transfers, group sends, chats, tags ------------------------------------------

    def transfers(self, corp_id: str, external_userid: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._get(
            f"corps/{corp_id}/transfers", external_userid=external_userid
        )["transfers"]
        return items

    def decide_transfer(
        self,
        corp_id: str,
        external_userid: str,
        outcome: str = "accept",
        handover_userid: str | None = None,
    ) -> dict[str, Any]:
        """outcome: accept (status 1), refuse (3), limit (4)."""
        return self._post(
            f"corps/{corp_id}/transfers/decide",
            {
                "external_userid": external_userid,
                "outcome": outcome,
                "handover_userid": handover_userid,
            },
        )

    def templates(self, corp_id: str, offset: int = 0, limit: int = 1000) -> dict[str, Any]:
        """{"templates": [{msgid, chat_type, creator, create_time, cancelled, targets, sent}],
        "total"}: the corp's templates in creation order, a page at a time."""
        return self._get(f"corps/{corp_id}/msg_templates", offset=offset, limit=limit)

    def group_messages(self, corp_id: str, offset: int = 0, limit: int = 10_000) -> dict[str, Any]:
        """{"received": [[target, [msgid, ...]], ...], "more": bool}: the customers and chats
        that received group messages, with one msgid per message, a page at a time."""
        return self._get(f"corps/{corp_id}/group_messages", offset=offset, limit=limit)

    def receipts(
        self, corp_id: str, kind: str = "welcome", offset: int = 0, limit: int = 10_000
    ) -> dict[str, Any]:
        """{received: [[target, [[sender, at, msgid], ...]], ...], more}: what reached
        customers and chats of one kind (welcome, group_msg, ...), a page at a time."""
        return self._get(f"corps/{corp_id}/receipts", kind=kind, offset=offset, limit=limit)

    def all_receipts(self, corp_id: str, kind: str = "welcome") -> dict[str, list[list[Any]]]:
        """Every target's receipts of one kind: {target: [[sender, at, msgid], ...]}."""
        found: dict[str, list[list[Any]]] = {}
        while True:
            page = self.receipts(corp_id, kind, offset=len(found), limit=100_000)
            found.update((target, entries) for target, entries in page["received"])
            if not page["more"]:
                return found

    def template(self, corp_id: str, msgid: str) -> dict[str, Any]:
        return self._get(f"corps/{corp_id}/msg_templates/{msgid}")

    def confirm_template(
        self, corp_id: str, msgid: str, userid: str | None = None, skip: list[str] | None = None
    ) -> dict[str, Any]:
        """The member(s) confirm the group send in the client; delivery happens now."""
        return self._post(
            f"corps/{corp_id}/msg_templates/{msgid}/confirm", {"userid": userid, "skip": skip}
        )

    def create_group_chat(
        self,
        corp_id: str,
        owner: str,
        name: str = "",
        members: Iterable[str] = (),
        external_userids: Iterable[str] = (),
        notice: str = "",
        chat_id: str | None = None,
    ) -> dict[str, Any]:
        return self._post(
            f"corps/{corp_id}/group_chats",
            {
                "owner": owner,
                "name": name,
                "members": list(members),
                "external_userids": list(external_userids),
                "notice": notice,
                "chat_id": chat_id,
            },
        )

    def change_group_members(
        self,
        corp_id: str,
        chat_id: str,
        add_members: Iterable[str] = (),
        add_external_userids: Iterable[str] = (),
        remove: Iterable[str] = (),
    ) -> dict[str, Any]:
        return self._post(
            f"corps/{corp_id}/group_chats/{chat_id}/members",
            {
                "add_members": list(add_members),
                "add_external_userids": list(add_external_userids),
                "remove": list(remove),
            },
        )

    def console_corp_tags(self, corp_id: str, op: str, **body: Any) -> dict[str, Any]:
        """Admin-console tag edit (sends change_external_tag): op create / update / shuffle /
        delete."""
        return self._post(f"corps/{corp_id}/console/corp_tags", {"op": op, **body})

    # --- the client: OAuth2 and the JS-SDK ---------------------------------------------

    def set_trusted_domains(self, corp_id: str, domains: list[str]) -> dict[str, Any]:
        return self._call("PUT", f"corps/{corp_id}/trusted_domains", {"domains": domains})

    def oauth_code(self, corp_id: str, userid: str) -> str:
        return str(self._post(f"corps/{corp_id}/oauth/code", {"userid": userid})["code"])

    def jssdk_call(self, corp_id: str, **body: Any) -> dict[str, Any]:
        return self._post(f"corps/{corp_id}/jssdk/call", body)

    def jssdk_calls(self, corp_id: str) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = self._get(f"corps/{corp_id}/jssdk/calls")["calls"]
        return calls

    def chat_url(self, corp_id: str, userid: str, external_userid: str, url: str) -> str:
        """The sandbox's chat window of `userid` with the sidebar page `url` beside it."""
        query = urlencode({"userid": userid, "external_userid": external_userid, "url": url})
        return f"{self.url}/client/{corp_id}/chat?{query}"

    # --- callbacks --------------------------------------------------------------------

    def callbacks(
        self, corp_id: str, since_id: int = 0, change_type: str | None = None
    ) -> list[dict[str, Any]]:
        """Every callback delivery: event fields, plaintext xml, status, attempts."""
        deliveries: list[dict[str, Any]] = self._get(
            f"corps/{corp_id}/callbacks", since_id=since_id, change_type=change_type
        )["deliveries"]
        return deliveries

    def wait_for_callbacks(
        self,
        corp_id: str,
        count: int = 1,
        *,
        change_type: str | None = None,
        since_id: int = 0,
        finished: bool = True,
        timeout: float = 20.0,
    ) -> list[dict[str, Any]]:
        """Poll until `count` deliveries exist (and, with `finished`, none is pending)."""
        deadline = time.monotonic() + timeout
        while True:
            deliveries = self.callbacks(corp_id, since_id, change_type)
            done = [d for d in deliveries if not finished or d["status"] != "pending"]
            if len(done) >= count and len(done) == len(deliveries):
                return deliveries
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(done)}/{count} callbacks after {timeout}s: {deliveries}")
            time.sleep(0.05)

    def send_event(
        self, corp_id: str, fields: dict[str, Any], app: str = "customer_contact"
    ) -> dict[str, Any]:
        return self._post(f"corps/{corp_id}/callbacks/send", {"fields": fields, "app": app})


def wechatpy_client(api_base_url: str, corp_id: str, secret: str, **kwargs: Any) -> Any:
    """A wechatpy 1.8.18 `enterprise.WeChatClient` aimed at the sandbox: API_BASE_URL is
    the sandbox, and fetch_access_token (hard-coded to qyapi.weixin.qq.com) goes there too."""
    from wechatpy.enterprise import WeChatClient

    class SandboxWeChatClient(WeChatClient):
        API_BASE_URL = api_base_url

        def fetch_access_token(self) -> Any:
            return self._fetch_access_token(
                url=api_base_url + "gettoken",
                params={"corpid": self.corp_id, "corpsecret": self.secret},
            )

    return SandboxWeChatClient(corp_id, secret, **kwargs)
