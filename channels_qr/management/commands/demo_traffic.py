"""Keep a gentle stream of simulated customers going through the WeCom sandbox (demo only).

    manage.py demo_traffic --schema demo [--rate 0.2] [--delete-share 0.1] [--seconds N]

Every ~1/rate seconds (random, exponential) a new customer scans one of the tenant's live
codes through the sandbox's control API, or, with probability --delete-share, a customer
who came through a channel deletes their guide. The sandbox then sends WeCom's encrypted
callbacks to the platform, so the console shows welcomes, attribution and channel stats
moving as they would in production. One log line per action; SIGTERM or Ctrl-C stops it
between two actions. With no channel at all, two demo channels are created first (once the
contact sync has brought the guides in).

The sandbox is the one the tenant's WeCom corp points at (WeComCorp.api_base_url); a
tenant on WeCom itself is refused, as is SCRM_ENV=production.
"""

import contextlib
import random
import signal
import threading
import time
from collections import deque
from types import FrameType
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django_tenants.utils import schema_context

from channels_qr.models import Channel, LiveCode
from channels_qr.services import ChannelData, ChannelInputError, GuideEntry, channel_create
from contacts.models import Guide, Relation
from scrm.wecom.client import WeComNotConnected, app_credentials
from scrm.wecom.errors import WeComError
from tagging.models import Tag
from tagging.services import TagInputError, tags_add
from wecom_sandbox.testing import SandboxControl, SandboxControlError

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = [
    "小红",
    "晓明",
    "佳怡",
    "子涵",
    "欣妍",
    "浩然",
    "雨桐",
    "梓萱",
    "俊杰",
    "思远",
    "一诺",
    "可馨",
]
DEMO_TAG_GROUP = "来源渠道"
DEMO_CHANNELS = ("门店海报", "包裹卡")
RECENT_SCANS = 200


class Command(BaseCommand):
    help = "Simulate scans of the demo tenant's live codes and occasional deletions (sandbox)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--schema", required=True, help="the demo tenant's schema")
        parser.add_argument(
            "--rate", type=float, default=0.2, help="actions per second on average (0.2)"
        )
        parser.add_argument(
            "--delete-share",
            type=float,
            default=0.1,
            help="share of actions that are a customer deleting their guide (0.1)",
        )
        parser.add_argument(
            "--seconds", type=float, default=0.0, help="stop after this long (0: until SIGTERM)"
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=300.0,
            help="how long to wait for the sandbox and the first guides (300)",
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed (tests)")

    def handle(
        self,
        *args: Any,
        schema: str,
        rate: float,
        delete_share: float,
        seconds: float,
        wait: float,
        seed: int | None,
        **options: Any,
    ) -> None:
        if settings.SCRM_ENV == "production":
            raise CommandError("demo_traffic never runs with SCRM_ENV=production")
        if rate <= 0 or not 0 <= delete_share <= 1:
            raise CommandError("--rate must be above 0 and --delete-share between 0 and 1")
        self.random = random.Random(seed)  # noqa: S311 - simulated customers, not secrets
        self.stop = threading.Event()
        self.recent: deque[tuple[str, str]] = deque(maxlen=RECENT_SCANS)
        self.scans = self.deletions = self.failures = 0
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            with schema_context(schema):
                self.corp_id, control_url = self._sandbox_of(schema)
                self.control = SandboxControl(control_url, timeout=10.0)
                deadline = time.monotonic() + seconds if seconds else None
                if self._wait_for_sandbox(wait) and self._ensure_channels(wait):
                    self._run(rate, delete_share, deadline)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self._log(
            f"stopped: {self.scans} scans, {self.deletions} deletions, {self.failures} failed"
        )

    # --- setup ---------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop.set()

    def _log(self, line: str) -> None:
        self.stdout.write(f"[demo traffic {timezone.localtime():%H:%M:%S}] {line}")

    def _sandbox_of(self, schema: str) -> tuple[str, str]:
        try:
            credentials = app_credentials(app_kind="customer_contact", tenant_schema=schema)
        except WeComNotConnected as exc:
            raise CommandError(f"{schema!r} has no WeCom customer contact app: {exc}") from None
        base = credentials.api_base_url
        if base.rstrip("/") == settings.WECOM_API_BASE_URL.rstrip("/") or "/cgi-bin" not in base:
            raise CommandError(f"{schema!r} talks to WeCom itself; demo traffic needs the sandbox")
        return credentials.corp_id, base.split("/cgi-bin", 1)[0]

    def _wait_for_sandbox(self, wait: float) -> bool:
        deadline = time.monotonic() + wait
        while not self.stop.is_set():
            try:
                self.control.health()
                self.control.corp(self.corp_id)
                return True
            except (requests.RequestException, SandboxControlError) as exc:
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"the sandbox at {self.control.url} is not ready: {exc}"
                    ) from None
            self.stop.wait(1.0)
        return False

    def _ensure_channels(self, wait: float) -> bool:
        """Two demo channels if the tenant has none at all (a channel the operator deleted
        is not brought back)."""
        if Channel.objects.exists():
            return True
        deadline = time.monotonic() + wait
        while not Guide.objects.filter(status=Guide.Status.ACTIVE).exists():
            if time.monotonic() > deadline:
                raise CommandError("no guides yet: run the contact sync first")
            self._log("waiting for the contact sync to bring in guides...")
            if self.stop.wait(5.0):
                return False
        guides = list(Guide.objects.filter(status=Guide.Status.ACTIVE).order_by("userid")[:6])
        tags = self._demo_tags()
        poster_guides = guides[:3]
        parcel_guides = guides[3:5] or guides[:1]
        backup = guides[5] if len(guides) > 5 else None
        specs = [
            ChannelData(
                name=DEMO_CHANNELS[0],
                strategy=Channel.Strategy.SEVERAL,
                guides=[GuideEntry(g.pk) for g in poster_guides],
                tag_ids=tags[:1],
                welcome_text="{客户昵称}，你好！我是{导购姓名}，欢迎光临门店，扫码有礼：回复「福利」领取新客券。",
            ),
            ChannelData(
                name=DEMO_CHANNELS[1],
                strategy=Channel.Strategy.SEVERAL,
                guides=[GuideEntry(g.pk, daily_cap=30) for g in parcel_guides],
                backup_guide_id=backup.pk if backup else None,
                tag_ids=tags[1:2],
                welcome_text="{客户昵称}，感谢下单！我是您的专属顾问{导购姓名}，"
                "售后、复购有任何问题都可以直接找我。",
            ),
        ]
        for data in specs:
            try:
                channel = channel_create(data=data, actor=None)
            except (ChannelInputError, WeComError) as exc:
                raise CommandError(f"could not create the demo channel {data.name}: {exc}") from exc
            self._log(f"created the demo channel {channel.name} (#{channel.pk})")
        return True

    def _demo_tags(self) -> list[str]:
        """Corp tags for the two demo channels (created in WeCom once); [] if that fails,
        the channels then tag nothing."""
        existing = dict(
            Tag.objects.filter(group__name=DEMO_TAG_GROUP, name__in=DEMO_CHANNELS).values_list(
                "name", "tag_id"
            )
        )
        if len(existing) < len(DEMO_CHANNELS):
            try:
                for tag in tags_add(
                    group_name=DEMO_TAG_GROUP, names=list(DEMO_CHANNELS), actor=None
                ):
                    existing[tag.name] = tag.tag_id
            except (TagInputError, WeComError) as exc:
                self._log(f"demo channels without tags: {exc}")
        return [existing[name] for name in DEMO_CHANNELS if name in existing]

    # --- the stream ----------------------------------------------------------------------

    def _run(self, rate: float, delete_share: float, deadline: float | None) -> None:
        self._log(
            f"scanning the live codes of corp {self.corp_id} about every {1 / rate:.1f} s "
            f"({delete_share:.0%} deletions); SIGTERM or Ctrl-C stops"
        )
        while not self.stop.is_set():
            pause = self.random.expovariate(rate)
            if deadline is not None:
                pause = min(pause, max(0.0, deadline - time.monotonic()))
            if self.stop.wait(pause) or (deadline is not None and time.monotonic() >= deadline):
                return
            try:
                if self.random.random() < delete_share and self._delete_one():
                    continue
                self._scan_one()
            except (requests.RequestException, SandboxControlError) as exc:
                self.failures += 1
                self._log(f"sandbox call failed: {exc}")

    def _scan_one(self) -> None:
        codes = list(
            LiveCode.objects.filter(channel__deleted_at__isnull=True, channel__is_active=True)
            .exclude(config_id="")
            .values_list("config_id", "channel__name")
        )
        if not codes:
            self._log("no active channel with a live code: nothing to scan")
            return
        config_id, channel_name = self.random.choice(codes)
        name = self.random.choice(SURNAMES) + self.random.choice(GIVEN)
        scanned = self.control.scan(self.corp_id, config_id, name=name)
        self.recent.append((str(scanned["external_userid"]), str(scanned["userid"])))
        self.scans += 1
        self._log(
            f"scan: {name} scanned {channel_name} and was added by {scanned['userid']} "
            f"({scanned['external_userid']})"
        )

    def _delete_one(self) -> bool:
        """A customer who came through a channel deletes their guide; False if none."""
        candidates = list(self.recent)
        candidates += [
            (str(ext), str(userid))
            for ext, userid in Relation.objects.filter(
                channel__isnull=False, status=Relation.Status.ACTIVE
            )
            .order_by("-id")
            .values_list("customer__external_userid", "guide__userid")[:RECENT_SCANS]
        ]
        if not candidates:
            return False
        external_userid, userid = self.random.choice(candidates)
        with contextlib.suppress(ValueError):
            self.recent.remove((external_userid, userid))
        try:
            self.control.customer_deletes_member(self.corp_id, external_userid, userid)
        except SandboxControlError as exc:
            if exc.status == 404:  # already gone (deleted in the console meanwhile)
                return False
            raise
        self.deletions += 1
        self._log(f"delete: customer {external_userid} deleted guide {userid}")
        return True
