from django.apps import AppConfig


class ChannelsQrConfig(AppConfig):
    name = "channels_qr"
    verbose_name = "渠道活码 / Channels"

    def ready(self) -> None:
        from channels_qr import handlers  # noqa: F401  (registers the callback handlers)
