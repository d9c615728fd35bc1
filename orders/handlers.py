"""Callback handlers of orders (order 80: after the contact book saved the customer).

A customer just added, or a remark phone just entered, may be who waiting orders and
events name: they are matched now, not at the next periodic re-match.
"""

from contacts.models import Customer
from orders.services import unmatched_match
from scrm.wecom.events.registry import callback_handler
from scrm.wecom.models import CallbackEvent

ORDER = 80


def _match_customer(event: CallbackEvent) -> None:
    external_userid = str(event.payload.get("ExternalUserID") or "")
    customer_id = (
        Customer.objects.filter(external_userid=external_userid)
        .values_list("pk", flat=True)
        .first()
    )
    if customer_id is not None:
        unmatched_match(customer_ids=[customer_id])


@callback_handler(
    event="change_external_contact",
    change_type="add_external_contact",
    order=ORDER,
    name="orders.match_added_customer",
)
def on_add_external_contact(event: CallbackEvent) -> None:
    _match_customer(event)


@callback_handler(
    event="change_external_contact",
    change_type="edit_external_contact",
    order=ORDER,
    name="orders.match_edited_customer",
)
def on_edit_external_contact(event: CallbackEvent) -> None:
    _match_customer(event)
