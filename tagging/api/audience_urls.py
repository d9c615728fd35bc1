"""API URLs of segments, auto-tag rules and bulk tagging jobs."""

urlpatterns: list = []
