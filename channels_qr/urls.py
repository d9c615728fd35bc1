"""Console URLs of channels (渠道活码)."""

app_name = "channels"

urlpatterns: list = []
