"""Console URLs of segments, auto-tag rules and bulk tagging jobs."""

from django.urls import path  # noqa: F401

app_name = "audience"

urlpatterns: list = []
