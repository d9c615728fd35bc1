from django.urls import path

from contacts import views

app_name = "contacts"

urlpatterns = [
    path("customers/", views.customers, name="customers"),
    path("customers/export.csv", views.customer_export, name="customer_export"),
    path("customers/deletions/", views.deletions, name="deletions"),
    path("customers/sync/", views.sync, name="sync"),
    path("customers/<int:pk>/", views.customer_detail, name="customer"),
    path("guides/", views.guides, name="guides"),
    path("guides/<int:pk>/", views.guide_detail, name="guide"),
    path("group-chats/", views.group_chats, name="group_chats"),
    path("group-chats/<int:pk>/", views.group_chat_detail, name="group_chat"),
]
