from django.urls import path

from sidebar import auth, views

app_name = "sidebar"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth.login, name="login"),
    path("oauth/callback/", auth.oauth_callback, name="oauth_callback"),
    path("api/jssdk-config/", views.jssdk_config_view, name="jssdk_config"),
    path("api/customers/<str:external_userid>/", views.customer, name="customer"),
]
