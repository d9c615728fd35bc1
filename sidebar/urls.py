from django.urls import include, path

from sidebar import api_views, auth, views

app_name = "sidebar"

api = [
    path("jssdk-config/", api_views.jssdk_config_view, name="jssdk_config"),
    path("customers/<str:external_userid>/", api_views.customer, name="customer"),
    path("customers/<str:external_userid>/timeline/", api_views.timeline, name="timeline"),
    path("customers/<str:external_userid>/tags/", api_views.tags, name="tags"),
    path("customers/<str:external_userid>/notes/", api_views.notes, name="notes"),
    path("customers/<str:external_userid>/follow-ups/", api_views.follow_ups, name="follow_ups"),
    path("follow-ups/<int:pk>/done/", api_views.follow_up_done, name="follow_up_done"),
    path("quick-replies/", api_views.quick_replies, name="quick_replies"),
    path(
        "quick-replies/<int:pk>/message/",
        api_views.quick_reply_message,
        name="quick_reply_message",
    ),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth.login, name="login"),
    path("oauth/callback/", auth.oauth_callback, name="oauth_callback"),
    path("api/", include(api)),
    # The console's pages of the sidebar (operators, session login), under the same prefix.
    path("manage/", include("sidebar.console_urls")),
]
