"""The sidebar's page. It holds no customer data: static/js/sidebar.js signs the guide in,
configures the JS-SDK, asks WeCom which customer the chat is with and loads them from the
JSON endpoints (sidebar.api_views), each checked against the guide's session."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from scrm.wecom.jssdk import jssdk_scripts
from sidebar.auth import TOKEN_HEADER
from sidebar.csp import allow_wecom_client, corp_api_base_url

EXTERNAL_USERID = "EXTERNAL_USERID"  # placeholder in URL templates, replaced by the script
PK = 999999999


def _urls() -> dict[str, str]:
    def per_customer(name: str) -> str:
        return reverse(f"sidebar:{name}", args=[EXTERNAL_USERID])

    return {
        "login": reverse("sidebar:login"),
        "config": reverse("sidebar:jssdk_config"),
        "customer": per_customer("customer"),
        "timeline": per_customer("timeline"),
        "tags": per_customer("tags"),
        "notes": per_customer("notes"),
        "follow_ups": per_customer("follow_ups"),
        "follow_up_done": reverse("sidebar:follow_up_done", args=[PK]).replace(str(PK), "PK"),
        "quick_replies": reverse("sidebar:quick_replies"),
        "quick_reply_message": reverse("sidebar:quick_reply_message", args=[PK]).replace(
            str(PK), "PK"
        ),
    }


def _labels() -> dict[str, str]:
    """The script's words, translated here so the page needs no catalogue of its own."""
    return {
        "profile": _("Profile"),
        "follow": _("Follow-ups"),
        "timeline": _("Timeline"),
        "replies": _("Quick replies"),
        "remark": _("Remark"),
        "phones": _("Phones"),
        "channel": _("Source channel"),
        "added": _("Added"),
        "guides": _("Guides holding them"),
        "you": _("you"),
        "tags": _("Tags"),
        "tags_readonly": _("Only a guide holding this customer can change their tags."),
        "no_tags": _("The brand has no tags yet."),
        "notes": _("Notes"),
        "note_placeholder": _("Write a note for colleagues…"),
        "add_note": _("Add note"),
        "no_notes": _("No notes yet."),
        "follow_ups": _("Follow-ups"),
        "follow_up_placeholder": _("What to do"),
        "due": _("Due"),
        "add_follow_up": _("Add follow-up"),
        "no_follow_ups": _("Nothing to follow up."),
        "done": _("Done"),
        "mark_done": _("Mark done"),
        "overdue": _("Overdue"),
        "no_events": _("Nothing on the timeline yet."),
        "more": _("Older entries"),
        "no_replies": _("No quick replies yet: operators add them in the console."),
        "send": _("Send"),
        "sent": _("Sent into the chat."),
        "send_failed": _("WeCom did not send it"),
        "saved": _("Saved."),
        "failed": _("Something went wrong: try again."),
        "offline": _("The network is unreachable: try again."),
        "not_in_chat": _("Open the sidebar from a chat with a customer."),
        "jssdk_failed": _("WeCom refused the page's signature"),
        "no_wecom": _("This brand has not connected WeCom yet."),
        "image": _("Image"),
        "link": _("Link"),
        "note_kind": _("Note"),
        "follow_up_kind": _("Follow-up"),
        "follow_up_done_kind": _("Follow-up done"),
        "added_tags": _("added"),
        "removed_tags": _("removed"),
        "by": _("by"),
    }


@require_GET
@xframe_options_exempt
def home(request: HttpRequest) -> HttpResponse:
    """The page WeCom opens beside a chat (聊天工具栏)."""
    api_base_url = corp_api_base_url()
    scripts = jssdk_scripts(api_base_url) if api_base_url else []
    response = render(
        request,
        "sidebar/home.html",
        {
            "scripts": scripts,
            "token_header": TOKEN_HEADER,
            "login_url": reverse("sidebar:login"),
            "sidebar": {"urls": _urls(), "labels": _labels(), "connected": bool(scripts)},
        },
    )
    return allow_wecom_client(response, api_base_url)
