from django.apps import AppConfig


class ChannelsQrConfig(AppConfig):
    name = "channels_qr"
    verbose_name = "渠道活码 / Channels"
