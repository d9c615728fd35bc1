"""Console URLs of lifecycle stages."""

from django.urls import path

from lifecycle import views

app_name = "lifecycle"

urlpatterns = [
    path("", views.lifecycle_settings_view, name="settings"),
    path("customers/", views.stage_customers_view, name="customers"),
]
