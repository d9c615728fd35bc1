"""Console URLs of QR code and poster downloads."""

app_name = "channel_downloads"

urlpatterns: list = []
