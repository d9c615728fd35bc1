from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "订单与事件 / Orders & events"

    def ready(self) -> None:
        from orders import handlers  # noqa: F401  (registers the callback handlers)
