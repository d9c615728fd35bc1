"""Slotted records for everything the sandbox stores.

A million customers must fit in well under 2 GB, so every record uses `__slots__`, and
values that repeat (userids, empty remarks, empty tuples, coarse timestamps) are shared
objects rather than copies. `STORED` names the fields written to a state file, in order;
the other slots are indexes rebuilt on load.
"""

from typing import Any, ClassVar, Self

EMPTY: tuple[Any, ...] = ()


class Record:
    __slots__ = ()
    STORED: ClassVar[tuple[str, ...]] = ()
    TUPLES: ClassVar[frozenset[str]] = frozenset()

    def to_row(self) -> list[Any]:
        return [getattr(self, name) for name in self.STORED]

    @classmethod
    def from_row(cls, row: list[Any]) -> Self:
        record = cls.__new__(cls)
        for name, value in zip(cls.STORED, row, strict=True):
            if name in cls.TUPLES:
                value = tuple(value) if value else EMPTY
            object.__setattr__(record, name, value)
        record.rebuild()
        return record

    def rebuild(self) -> None:
        """Reset the slots that are not stored (indexes) after loading."""


class App(Record):
    __slots__ = ("agent_id", "callback_url", "encoding_aes_key", "name", "secret", "token")
    STORED = ("name", "agent_id", "secret", "callback_url", "token", "encoding_aes_key")

    def __init__(
        self,
        name: str,
        agent_id: int | None,
        secret: str,
        callback_url: str,
        token: str,
        encoding_aes_key: str,
    ) -> None:
        self.name = name
        self.agent_id = agent_id
        self.secret = secret
        self.callback_url = callback_url
        self.token = token
        self.encoding_aes_key = encoding_aes_key


class Department(Record):
    __slots__ = ("id", "name", "order", "parentid")
    STORED = ("id", "name", "parentid", "order")

    def __init__(self, id: int, name: str, parentid: int, order: int) -> None:
        self.id = id
        self.name = name
        self.parentid = parentid
        self.order = order


class Member(Record):
    """A corp member (成员). `follows` maps external_userid -> Follow, in add order."""

    __slots__ = (
        "created_at",
        "customer_contact",
        "department",
        "dimission_time",
        "follows",
        "gender",
        "name",
        "position",
        "status",
        "userid",
    )
    STORED = (
        "userid",
        "name",
        "department",
        "position",
        "gender",
        "status",
        "customer_contact",
        "created_at",
        "dimission_time",
    )
    TUPLES = frozenset({"department"})

    def __init__(
        self,
        userid: str,
        name: str,
        department: tuple[int, ...],
        *,
        position: str = "",
        gender: int = 0,
        status: int = 1,
        customer_contact: bool = True,
        created_at: int = 0,
        dimission_time: int = 0,
    ) -> None:
        self.userid = userid
        self.name = name
        self.department = department
        self.position = position
        self.gender = gender
        self.status = status
        self.customer_contact = customer_contact
        self.created_at = created_at
        self.dimission_time = dimission_time
        self.follows: dict[str, Follow] = {}

    def rebuild(self) -> None:
        self.follows = {}

    @property
    def active(self) -> bool:
        return self.status == 1


class Customer(Record):
    """An external contact. `follows` is a tuple (most customers follow one member)."""

    __slots__ = (
        "avatar",
        "external_userid",
        "extra",
        "follows",
        "gender",
        "name",
        "type",
        "unionid",
    )
    STORED = ("external_userid", "name", "avatar", "type", "gender", "unionid", "extra")

    def __init__(
        self,
        external_userid: str,
        name: str,
        avatar: str | None = None,
        type: int = 1,
        gender: int = 0,
        unionid: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.external_userid = external_userid
        self.name = name
        self.avatar = avatar
        self.type = type
        self.gender = gender
        self.unionid = unionid
        self.extra = extra
        self.follows: tuple[Follow, ...] = EMPTY

    def rebuild(self) -> None:
        self.follows = EMPTY


class Follow(Record):
    """One member <-> customer relationship (follow_user / follow_info)."""

    __slots__ = (
        "add_way",
        "createtime",
        "description",
        "external_userid",
        "oper_userid",
        "remark",
        "remark_corp_name",
        "remark_mobiles",
        "state",
        "tag_ids",
        "userid",
    )
    STORED = (
        "external_userid",
        "userid",
        "remark",
        "description",
        "remark_corp_name",
        "remark_mobiles",
        "add_way",
        "state",
        "createtime",
        "oper_userid",
        "tag_ids",
    )
    TUPLES = frozenset({"remark_mobiles", "tag_ids"})

    def __init__(
        self,
        external_userid: str,
        userid: str,
        createtime: int,
        *,
        add_way: int = 0,
        state: str = "",
        oper_userid: str = "",
        remark: str = "",
        description: str = "",
        remark_corp_name: str = "",
        remark_mobiles: tuple[str, ...] = EMPTY,
        tag_ids: tuple[str, ...] = EMPTY,
    ) -> None:
        self.external_userid = external_userid
        self.userid = userid
        self.remark = remark
        self.description = description
        self.remark_corp_name = remark_corp_name
        self.remark_mobiles = remark_mobiles
        self.add_way = add_way
        self.state = state
        self.createtime = createtime
        self.oper_userid = oper_userid
        self.tag_ids = tag_ids


class TagGroup(Record):
    __slots__ = ("create_time", "group_id", "name", "order", "tag_ids")
    STORED = ("group_id", "name", "order", "create_time")

    def __init__(self, group_id: str, name: str, order: int, create_time: int) -> None:
        self.group_id = group_id
        self.name = name
        self.order = order
        self.create_time = create_time
        self.tag_ids: list[str] = []

    def rebuild(self) -> None:
        self.tag_ids = []


class Tag(Record):
    __slots__ = ("create_time", "group_id", "name", "order", "tag_id")
    STORED = ("tag_id", "group_id", "name", "order", "create_time")

    def __init__(self, tag_id: str, group_id: str, name: str, order: int, create_time: int) -> None:
        self.tag_id = tag_id
        self.group_id = group_id
        self.name = name
        self.order = order
        self.create_time = create_time


class ContactWay(Record):
    """A 「联系我」 way. `options` keeps the fields the sandbox only echoes back."""

    __slots__ = (
        "config_id",
        "created_at",
        "is_temp",
        "options",
        "party",
        "qr_code",
        "remark",
        "scene",
        "skip_verify",
        "state",
        "style",
        "type",
        "user",
    )
    STORED = (
        "config_id",
        "type",
        "scene",
        "style",
        "remark",
        "skip_verify",
        "state",
        "user",
        "party",
        "qr_code",
        "is_temp",
        "options",
        "created_at",
    )
    TUPLES = frozenset({"user", "party"})

    def __init__(
        self,
        config_id: str,
        type: int,
        scene: int,
        *,
        style: int | None,
        remark: str,
        skip_verify: bool,
        state: str,
        user: tuple[str, ...],
        party: tuple[int, ...],
        qr_code: str,
        is_temp: bool,
        options: dict[str, Any],
        created_at: int,
    ) -> None:
        self.config_id = config_id
        self.type = type
        self.scene = scene
        self.style = style
        self.remark = remark
        self.skip_verify = skip_verify
        self.state = state
        self.user = user
        self.party = party
        self.qr_code = qr_code
        self.is_temp = is_temp
        self.options = options
        self.created_at = created_at


class WelcomeCode(Record):
    """`calls` counts send_welcome_msg calls naming the code and `welcomed_at` is the wall
    clock when the welcome was taken (for benchmarks; neither is saved)."""

    __slots__ = ("calls", "code", "created_at", "external_userid", "used", "userid", "welcomed_at")
    STORED = ("code", "external_userid", "userid", "created_at", "used")

    def __init__(self, code: str, external_userid: str, userid: str, created_at: int) -> None:
        self.code = code
        self.external_userid = external_userid
        self.userid = userid
        self.created_at = created_at
        self.used = False
        self.rebuild()

    def rebuild(self) -> None:
        self.calls = 0
        self.welcomed_at: float | None = None


class MsgTemplate(Record):
    """A group send (企业群发). `results[userid][target] = [status, send_time]`, where the
    target is an external_userid (single) or a chat_id (group)."""

    __slots__ = (
        "allow_select",
        "attachments",
        "cancelled",
        "chat_type",
        "create_time",
        "creator",
        "msgid",
        "reminders",
        "results",
        "tasks",
        "text",
    )
    STORED = (
        "msgid",
        "chat_type",
        "creator",
        "create_time",
        "text",
        "attachments",
        "allow_select",
        "cancelled",
        "tasks",
        "results",
        "reminders",
    )

    def __init__(
        self,
        msgid: str,
        chat_type: str,
        creator: str,
        create_time: int,
        text: dict[str, Any] | None,
        attachments: list[dict[str, Any]],
        allow_select: bool,
    ) -> None:
        self.msgid = msgid
        self.chat_type = chat_type
        self.creator = creator
        self.create_time = create_time
        self.text = text
        self.attachments = attachments
        self.allow_select = allow_select
        self.cancelled = False
        self.tasks: dict[str, list[int]] = {}
        self.results: dict[str, dict[str, list[int]]] = {}
        self.reminders: list[int] = []


TRANSFER_DONE = 1
TRANSFER_WAITING = 2
TRANSFER_REFUSED = 3
TRANSFER_LIMIT = 4


class Transfer(Record):
    """One customer's transfer (在职继承 `onjob` / 离职继承 `resigned`)."""

    __slots__ = (
        "external_userid",
        "handover",
        "kind",
        "started_at",
        "status",
        "success_msg",
        "takeover",
        "takeover_time",
    )
    STORED = (
        "kind",
        "external_userid",
        "handover",
        "takeover",
        "status",
        "started_at",
        "takeover_time",
        "success_msg",
    )

    def __init__(
        self,
        kind: str,
        external_userid: str,
        handover: str,
        takeover: str,
        started_at: int,
        takeover_time: int,
        success_msg: str,
    ) -> None:
        self.kind = kind
        self.external_userid = external_userid
        self.handover = handover
        self.takeover = takeover
        self.status = TRANSFER_WAITING
        self.started_at = started_at
        self.takeover_time = takeover_time
        self.success_msg = success_msg


class GroupChat(Record):
    """A customer group chat. `members` holds WeCom's member_list items as dicts."""

    __slots__ = (
        "admins",
        "chat_id",
        "create_time",
        "members",
        "name",
        "notice",
        "owner",
        "status",
        "transfer_times",
    )
    STORED = (
        "chat_id",
        "name",
        "owner",
        "create_time",
        "notice",
        "status",
        "members",
        "admins",
        "transfer_times",
    )

    def __init__(self, chat_id: str, name: str, owner: str, create_time: int) -> None:
        self.chat_id = chat_id
        self.name = name
        self.owner = owner
        self.create_time = create_time
        self.notice = ""
        self.status = 0
        self.members: list[dict[str, Any]] = []
        self.admins: list[str] = []
        self.transfer_times: list[int] = []


class Media(Record):
    __slots__ = ("created_at", "filename", "media_id", "size", "type")
    STORED = ("media_id", "type", "created_at", "size", "filename")

    def __init__(self, media_id: str, type: str, created_at: int, size: int, filename: str) -> None:
        self.media_id = media_id
        self.type = type
        self.created_at = created_at
        self.size = size
        self.filename = filename


class Receipt(Record):
    """Something that reached a customer (or a group chat): a welcome message, a group
    message, a transfer message. Text and attachments are shared with the template."""

    __slots__ = ("at", "attachments", "kind", "msgid", "sender", "text")
    STORED = ("kind", "at", "sender", "msgid", "text", "attachments")

    def __init__(
        self,
        kind: str,
        at: int,
        sender: str,
        msgid: str,
        text: str,
        attachments: list[dict[str, Any]],
    ) -> None:
        self.kind = kind
        self.at = at
        self.sender = sender
        self.msgid = msgid
        self.text = text
        self.attachments = attachments

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.at,
            "sender": self.sender,
            "msgid": self.msgid,
            "text": self.text,
            "attachments": self.attachments,
        }
