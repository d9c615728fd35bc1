from django.apps import AppConfig


class SidebarConfig(AppConfig):
    name = "sidebar"
    verbose_name = "导购侧边栏 / Guide sidebar"
