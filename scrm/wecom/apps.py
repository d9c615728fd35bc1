from django.apps import AppConfig


class WeComConfig(AppConfig):
    name = "scrm.wecom"
    label = "wecom"
    verbose_name = "企业微信 / WeCom"
