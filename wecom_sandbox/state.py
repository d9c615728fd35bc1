"""The sandbox's world: corps with their members, customers, relationships and jobs.

Everything is in memory behind one lock (`SandboxState.lock`); API and control handlers
hold it for their whole run, callbacks are encrypted and sent outside it.
"""

import heapq
import itertools
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from wecom_sandbox.errors import WeComError
from wecom_sandbox.records import (
    TRANSFER_WAITING,
    App,
    ContactWay,
    Customer,
    Department,
    Follow,
    GroupChat,
    Media,
    Member,
    MsgTemplate,
    Receipt,
    Tag,
    TagGroup,
    Transfer,
    WelcomeCode,
)

CUSTOMER_CONTACT = "customer_contact"
CONTACTS_SYNC = "contacts_sync"
ROOT_DEPARTMENT = 1


class Corp:
    """One WeCom corp and everything in it."""

    def __init__(self, corp_id: str, name: str) -> None:
        self.corp_id = corp_id
        self.name = name
        self.apps: dict[str, App] = {}
        self.departments: dict[int, Department] = {
            ROOT_DEPARTMENT: Department(ROOT_DEPARTMENT, name, 0, 100000000)
        }
        self.members: dict[str, Member] = {}
        self.customers: dict[str, Customer] = {}
        self.tag_groups: dict[str, TagGroup] = {}
        self.tags: dict[str, Tag] = {}
        self.contact_ways: dict[str, ContactWay] = {}
        self.api_contact_way_count = 0
        self.temp_contact_ways_by_day: dict[str, int] = {}
        self.welcome_codes: dict[str, WelcomeCode] = {}
        self.templates: dict[str, MsgTemplate] = {}
        # external_userid (or chat_id) -> what arrived there, oldest first.
        self.received: dict[str, list[Receipt]] = {}
        self.member_messages: dict[str, list[dict[str, Any]]] = {}
        self.transfers: list[Transfer] = []
        self.transfer_index: dict[tuple[str, str, str], list[Transfer]] = defaultdict(list)
        self.pending_transfers: dict[str, Transfer] = {}
        self.transfer_queue: list[tuple[int, int, Transfer]] = []
        # external_userid -> start times of its on-duty transfers (the 90-day rule).
        self.onjob_transfer_history: dict[str, list[int]] = {}
        self.group_chats: dict[str, GroupChat] = {}
        self.media: dict[str, Media] = {}
        self._transfer_seq = itertools.count()

    # --- lookups that answer with WeCom's errcodes -------------------------------------

    def app(self, name: str) -> App:
        try:
            return self.apps[name]
        except KeyError:
            raise LookupError(f"corp {self.corp_id} has no app {name!r}") from None

    def callback_app(self, kind: str) -> App | None:
        """The app whose callback URL receives `kind` events (contact-book events fall
        back to the customer-contact app when no contacts-sync app is configured)."""
        if kind == CONTACTS_SYNC:
            return self.apps.get(CONTACTS_SYNC) or self.apps.get(CUSTOMER_CONTACT)
        return self.apps.get(CUSTOMER_CONTACT)

    def member(self, userid: str | None) -> Member:
        """An active member; quit members were removed from the contact book (60111)."""
        if not userid:
            raise WeComError(41009)
        found = self.members.get(userid)
        if found is None or not found.active:
            raise WeComError(60111, f"userid not found: {userid}")
        return found

    def customer(self, external_userid: str | None) -> Customer:
        if not external_userid:
            raise WeComError(41035)
        found = self.customers.get(external_userid)
        if found is None:
            raise WeComError(40096, f"invalid external userid: {external_userid}")
        return found

    def find_follow(self, external_userid: str, userid: str) -> Follow | None:
        member = self.members.get(userid)
        if member is None:
            return None
        return member.follows.get(external_userid)

    def follow(self, userid: str | None, external_userid: str | None) -> Follow:
        """The relationship, or 60111 / 40096 / 84061 like WeCom."""
        member = self.member(userid)
        customer = self.customer(external_userid)
        found = member.follows.get(customer.external_userid)
        if found is None:
            raise WeComError(84061)
        return found

    # --- relationships ---------------------------------------------------------------

    def add_customer(self, customer: Customer) -> None:
        self.customers[customer.external_userid] = customer

    def add_follow(self, follow: Follow) -> None:
        customer = self.customers[follow.external_userid]
        member = self.members[follow.userid]
        member.follows[follow.external_userid] = follow
        customer.follows = (*customer.follows, follow)

    def remove_follow(self, follow: Follow) -> None:
        member = self.members.get(follow.userid)
        if member is not None:
            member.follows.pop(follow.external_userid, None)
        customer = self.customers.get(follow.external_userid)
        if customer is not None:
            customer.follows = tuple(f for f in customer.follows if f is not follow)

    def live_tag_ids(self, follow: Follow) -> list[str]:
        # Deleting a corp tag does not walk a million follows; dead ids are dropped on read.
        return [tag_id for tag_id in follow.tag_ids if tag_id in self.tags]

    def last_follow(self, customer: Customer) -> Follow | None:
        """The active member who added the customer most recently ("last interacted")."""
        best: Follow | None = None
        for follow in customer.follows:
            member = self.members.get(follow.userid)
            if member is None or not member.active:
                continue
            if best is None or follow.createtime >= best.createtime:
                best = follow
        return best

    # --- transfers -------------------------------------------------------------------

    def add_transfer(self, transfer: Transfer) -> None:
        self.transfers.append(transfer)
        key = (transfer.kind, transfer.handover, transfer.takeover)
        self.transfer_index[key].append(transfer)
        if transfer.status == TRANSFER_WAITING:
            self.pending_transfers[transfer.external_userid] = transfer
            heapq.heappush(
                self.transfer_queue, (transfer.takeover_time, next(self._transfer_seq), transfer)
            )

    def due_transfers(self, now: int) -> list[Transfer]:
        due = []
        while self.transfer_queue and self.transfer_queue[0][0] <= now:
            _, _, transfer = heapq.heappop(self.transfer_queue)
            if transfer.status == TRANSFER_WAITING:
                due.append(transfer)
        return due

    def reindex_transfers(self) -> None:
        self.transfer_index = defaultdict(list)
        self.pending_transfers = {}
        self.transfer_queue = []
        transfers, self.transfers = self.transfers, []
        for transfer in transfers:
            self.add_transfer(transfer)

    # --- members ---------------------------------------------------------------------

    def descendant_departments(self, department_id: int) -> list[int]:
        children: dict[int, list[int]] = defaultdict(list)
        for department in self.departments.values():
            if department.id != department.parentid:
                children[department.parentid].append(department.id)
        found, stack = [], [department_id]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(children.get(current, ()))
        return found

    def active_members(self) -> list[Member]:
        return [member for member in self.members.values() if member.active]

    def counts(self) -> dict[str, int]:
        return {
            "departments": len(self.departments),
            "members": len(self.members),
            "active_members": sum(1 for m in self.members.values() if m.active),
            "customers": len(self.customers),
            "follows": sum(len(m.follows) for m in self.members.values()),
            "tag_groups": len(self.tag_groups),
            "tags": len(self.tags),
            "contact_ways": len(self.contact_ways),
            "welcome_codes": len(self.welcome_codes),
            "msg_templates": len(self.templates),
            "transfers": len(self.transfers),
            "group_chats": len(self.group_chats),
            "media": len(self.media),
        }


@dataclass(slots=True)
class Token:
    corp_id: str
    app_name: str
    expires_at: float


@dataclass
class SandboxState:
    """All corps plus issued access tokens."""

    corps: dict[str, Corp] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def corp(self, corp_id: str) -> Corp:
        try:
            return self.corps[corp_id]
        except KeyError:
            raise LookupError(f"no corp {corp_id!r}") from None
