"""Callback handlers of the contact book, registered with the WeCom event registry.

Order 50: after the channels app's welcome message (order 0), which must go out within
WeCom's 20 seconds and needs nothing from here.
"""

from datetime import datetime

from django.utils import timezone

from contacts import incremental
from contacts.alerts import deletion_alert
from contacts.chats import group_chat_dismiss, group_chat_refresh
from contacts.models import Relation
from scrm.wecom.events.registry import callback_handler
from scrm.wecom.models import CallbackEvent

ORDER = 50


def _at(event: CallbackEvent) -> datetime:
    return event.create_time or event.received_at or timezone.now()


def _ids(event: CallbackEvent) -> tuple[str, str]:
    return str(event.payload.get("UserID") or ""), str(event.payload.get("ExternalUserID") or "")


def _key(event: CallbackEvent) -> str:
    return f"cb:{event.pk}"


@callback_handler(
    event="change_external_contact",
    change_type="add_external_contact",
    order=ORDER,
    name="contacts.relation_added",
)
def on_add_external_contact(event: CallbackEvent) -> None:
    userid, external_userid = _ids(event)
    incremental.relation_added(
        userid=userid, external_userid=external_userid, at=_at(event), event_key=_key(event)
    )


@callback_handler(
    event="change_external_contact",
    change_type="add_half_external_contact",
    order=ORDER,
    name="contacts.relation_half_added",
)
def on_add_half_external_contact(event: CallbackEvent) -> None:
    userid, external_userid = _ids(event)
    incremental.relation_added(
        userid=userid,
        external_userid=external_userid,
        at=_at(event),
        pending=True,
        event_key=_key(event),
    )


@callback_handler(
    event="change_external_contact",
    change_type="edit_external_contact",
    order=ORDER,
    name="contacts.relation_edited",
)
def on_edit_external_contact(event: CallbackEvent) -> None:
    userid, external_userid = _ids(event)
    incremental.relation_edited(
        userid=userid, external_userid=external_userid, at=_at(event), event_key=_key(event)
    )


@callback_handler(
    event="change_external_contact",
    change_type="del_external_contact",
    order=ORDER,
    name="contacts.guide_deleted_customer",
)
def on_del_external_contact(event: CallbackEvent) -> None:
    userid, external_userid = _ids(event)
    # A transfer removes the customer from the old guide with this same event.
    by_transfer = str(event.payload.get("Source") or "").upper() == "DELETE_BY_TRANSFER"
    relation = incremental.relation_ended(
        userid=userid,
        external_userid=external_userid,
        status=Relation.Status.TRANSFERRED if by_transfer else Relation.Status.DELETED_BY_GUIDE,
        at=_at(event),
        event_key=_key(event),
    )
    if relation is not None and not by_transfer:
        deletion_alert(relation=relation)


@callback_handler(
    event="change_external_contact",
    change_type="del_follow_user",
    order=ORDER,
    name="contacts.customer_deleted_guide",
)
def on_del_follow_user(event: CallbackEvent) -> None:
    userid, external_userid = _ids(event)
    relation = incremental.relation_ended(
        userid=userid,
        external_userid=external_userid,
        status=Relation.Status.DELETED_BY_CUSTOMER,
        at=_at(event),
        event_key=_key(event),
    )
    if relation is not None:
        deletion_alert(relation=relation)


@callback_handler(
    event="change_external_contact",
    change_type="transfer_fail",
    order=ORDER,
    name="contacts.transfer_failed",
)
def on_transfer_fail(event: CallbackEvent) -> None:
    userid, external_userid = _ids(event)
    incremental.transfer_failed(
        takeover_userid=userid,
        external_userid=external_userid,
        reason=str(event.payload.get("FailReason") or ""),
        at=_at(event),
        event_key=_key(event),
    )


@callback_handler(
    event="change_contact", change_type="create_user", order=ORDER, name="contacts.member_created"
)
def on_create_user(event: CallbackEvent) -> None:
    incremental.guide_refresh(userid=str(event.payload.get("UserID") or ""))


@callback_handler(
    event="change_contact", change_type="update_user", order=ORDER, name="contacts.member_updated"
)
def on_update_user(event: CallbackEvent) -> None:
    userid = str(event.payload.get("UserID") or "")
    new_userid = str(event.payload.get("NewUserID") or "")
    if new_userid and new_userid != userid:
        incremental.guide_renamed(old_userid=userid, new_userid=new_userid)
        userid = new_userid
    incremental.guide_refresh(userid=userid)


@callback_handler(
    event="change_contact", change_type="delete_user", order=ORDER, name="contacts.member_deleted"
)
def on_delete_user(event: CallbackEvent) -> None:
    incremental.guide_departed(userid=str(event.payload.get("UserID") or ""), at=_at(event))


@callback_handler(event="change_external_chat", order=ORDER, name="contacts.group_chat_changed")
def on_change_external_chat(event: CallbackEvent) -> None:
    chat_id = str(event.payload.get("ChatId") or "")
    if not chat_id:
        return
    if event.change_type == "dismiss":
        group_chat_dismiss(chat_id=chat_id, at=_at(event))
    else:
        group_chat_refresh(chat_id=chat_id)
