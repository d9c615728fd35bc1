"""Console URLs of orders, custom events and order imports."""

from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.orders_list, name="list"),
    path("<int:pk>/", views.order_detail, name="detail"),
    path("events/", views.events_list, name="events"),
    path("imports/", views.imports_list, name="imports"),
    path("imports/new/", views.import_new, name="import_new"),
    path("imports/template.csv", views.import_template, name="import_template"),
    path("imports/<int:pk>/", views.import_detail, name="import"),
    path("imports/<int:pk>/progress.json", views.import_progress, name="import_progress"),
    path("imports/<int:pk>/report.csv", views.import_report, name="import_report"),
]
