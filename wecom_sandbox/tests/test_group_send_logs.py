"""The bulk views of group sends (for benchmarks): every template with its counts, and who
received which group messages, a page at a time."""


def _template(client, **body):
    return client.external_contact.add_msg_template({"text": {"content": "上新"}, **body})


def test_templates_and_group_messages_in_bulk(client, control, corp):
    corp_id = corp["corp_id"]
    control.seed(corp_id, customers=6)  # round-robin: 2 customers per guide
    amy = control.customers(corp_id, userid="guide00001")
    bob = control.customers(corp_id, userid="guide00002")
    first = _template(client, sender="guide00001", external_userid=amy)["msgid"]
    second = _template(client, sender="guide00002", external_userid=bob)["msgid"]
    again = _template(client, sender="guide00001", external_userid=amy[:1])["msgid"]
    control.confirm_template(corp_id, first)
    control.confirm_template(corp_id, again)

    listed = control.templates(corp_id)
    assert listed["total"] == 3
    assert [(t["msgid"], t["creator"], t["targets"], t["sent"]) for t in listed["templates"]] == [
        (first, "guide00001", 2, 2),
        (second, "guide00002", 2, 0),  # not confirmed: nothing delivered
        (again, "guide00001", 1, 1),
    ]
    assert [t["msgid"] for t in control.templates(corp_id, offset=1, limit=1)["templates"]] == [
        second
    ]

    received = control.group_messages(corp_id)
    assert received["more"] is False
    assert dict(received["received"]) == {
        amy[0]: [first, again],  # received twice: the duplicate shows
        amy[1]: [first],
    }
    page = control.group_messages(corp_id, offset=1, limit=1)
    assert page == {"received": [[amy[1], [first]]], "more": False}
    assert control.group_messages(corp_id, limit=1)["more"] is True
