from django.apps import AppConfig


class HandoverConfig(AppConfig):
    name = "handover"
    verbose_name = "离职继承 / Handover"

    def ready(self) -> None:
        from handover import handlers  # noqa: F401  (registers the callback handlers)
