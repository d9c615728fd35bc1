"""Console URLs of webhooks."""

from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.endpoints, name="list"),
    path("new/", views.endpoint_new, name="new"),
    path("<int:pk>/", views.endpoint_detail, name="detail"),
    path("<int:pk>/edit/", views.endpoint_edit, name="edit"),
    path("<int:pk>/rotate/", views.endpoint_rotate, name="rotate"),
    path("<int:pk>/test/", views.endpoint_test_view, name="test"),
    path("<int:pk>/enable/", views.endpoint_enable_view, name="enable"),
    path("<int:pk>/disable/", views.endpoint_disable_view, name="disable"),
    path("<int:pk>/delete/", views.endpoint_delete_view, name="delete"),
    path("deliveries/<int:pk>/", views.delivery_detail, name="delivery"),
    path("deliveries/<int:pk>/redeliver/", views.delivery_redeliver_view, name="redeliver"),
]
