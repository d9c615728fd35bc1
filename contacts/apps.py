from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "客户 / Contacts"

    def ready(self) -> None:
        from contacts import handlers  # noqa: F401  (registers the callback handlers)
