"""API URLs of channels."""

urlpatterns: list = []
