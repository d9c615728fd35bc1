"""App messages (message/send) to guides and store managers."""

from dataclasses import dataclass, field

from scrm.wecom.client import WeComClient, wecom_client

# message/send takes at most 1000 members per call.
TOUSER_LIMIT = 1000


class NotificationNotPossible(Exception):
    """The customer contact app has no AgentId, so WeCom cannot deliver app messages."""


@dataclass
class NotificationResult:
    sent: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def guide_notify(
    *, userids: list[str], text: str, client: WeComClient | None = None
) -> NotificationResult:
    """Send a text app message to guides (by WeCom userid); reports who WeCom refused."""
    if not text.strip():
        raise ValueError("the notification text is empty")
    client = client or wecom_client(app_kind="customer_contact")
    agent_id = client.credentials.agent_id
    if not agent_id:
        raise NotificationNotPossible("the customer contact app has no AgentId")
    result = NotificationResult()
    unique = list(dict.fromkeys(u for u in userids if u))
    for start in range(0, len(unique), TOUSER_LIMIT):
        chunk = unique[start : start + TOUSER_LIMIT]
        response = client.post(
            "message/send",
            data={
                "touser": "|".join(chunk),
                "msgtype": "text",
                "agentid": agent_id,
                "text": {"content": text[:2048]},
            },
        )
        invalid = [u for u in (response.get("invaliduser") or "").split("|") if u]
        result.invalid += invalid
        result.sent += [u for u in chunk if u not in invalid]
    return result
