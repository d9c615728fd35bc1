"""Callback handlers, run in a declared order.

    @callback_handler(event="change_external_contact", change_type="add_external_contact",
                      order=0)
    def send_welcome(event: CallbackEvent) -> None: ...

Apps register their handlers from AppConfig.ready(). Lower `order` runs first (the channels
app puts its welcome handler at 0: WeCom's welcome code lives only 20 s). A handler may be
run again after a crash, so it must be idempotent; a handler that finished is not re-run
when a later one is retried.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrm.wecom.models import CallbackEvent

HandlerFunc = Callable[["CallbackEvent"], None]


@dataclass(frozen=True)
class Handler:
    name: str
    event: str
    change_type: str | None
    order: int
    func: HandlerFunc


_handlers: dict[str, Handler] = {}


def callback_handler(
    *, event: str, change_type: str | None = None, order: int = 100, name: str | None = None
) -> Callable[[HandlerFunc], HandlerFunc]:
    def decorator(func: HandlerFunc) -> HandlerFunc:
        handler_name = name or f"{func.__module__}.{func.__qualname__}"
        _handlers[handler_name] = Handler(handler_name, event, change_type, order, func)
        return func

    return decorator


def unregister(name: str) -> None:
    _handlers.pop(name, None)


def handlers_for(event: str, change_type: str = "") -> list[Handler]:
    matching = [
        h
        for h in _handlers.values()
        if h.event == event and (h.change_type is None or h.change_type == change_type)
    ]
    return sorted(matching, key=lambda h: (h.order, h.name))
