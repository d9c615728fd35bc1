"""Console URLs of privacy: the settings page, a customer's export and erasure."""

from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("", views.privacy_settings_view, name="settings"),
    path("customers/<int:pk>/export.json", views.customer_export_view, name="customer_export"),
    path("customers/<int:pk>/erase/", views.customer_erase_view, name="customer_erase"),
]
