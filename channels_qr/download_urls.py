"""Console URLs of QR code and poster downloads (mounted at /channels/).

{% url "channel_downloads:qr" channel.pk %}?size=S|M|L|XL
{% url "channel_downloads:poster_png" channel.pk %}?text=…
{% url "channel_downloads:poster_pdf" channel.pk %}?text=…
"""

from django.urls import path

from channels_qr import download_views

app_name = "channel_downloads"

urlpatterns = [
    path("<int:pk>/qr.png", download_views.qr_download, name="qr"),
    path("<int:pk>/poster.png", download_views.poster_png_download, name="poster_png"),
    path("<int:pk>/poster.pdf", download_views.poster_pdf_download, name="poster_pdf"),
]
