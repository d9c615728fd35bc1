from django.apps import AppConfig


class TaggingConfig(AppConfig):
    name = "tagging"
    verbose_name = "标签 / Tags"

    def ready(self) -> None:
        from tagging import handlers  # noqa: F401  (registers the callback handlers)
