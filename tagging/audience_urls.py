"""Console URLs of segments, auto-tag rules and bulk tagging jobs."""

from django.urls import path

from tagging import audience_views as views

app_name = "audience"

# Included at "" before `tags/` (the tag catalogue), so `tags/rules/` and `tags/bulk/` are
# matched here first.
urlpatterns = [
    path("segments/", views.segments, name="segments"),
    path("segments/new/", views.segment_create, name="segment_create"),
    path("segments/preview/", views.segment_preview, name="segment_preview"),
    path("segments/guides/", views.guide_search_view, name="guide_search"),
    path("segments/<int:pk>/", views.segment_detail, name="segment"),
    path("segments/<int:pk>/edit/", views.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/delete/", views.segment_delete_view, name="segment_delete"),
    path("segments/<int:pk>/refresh/", views.segment_refresh, name="segment_refresh"),
    path("segments/<int:pk>/bulk/", views.segment_bulk, name="segment_bulk"),
    path("tags/rules/", views.rules, name="rules"),
    path("tags/rules/new/", views.rule_create, name="rule_create"),
    path("tags/rules/<int:pk>/edit/", views.rule_edit, name="rule_edit"),
    path("tags/rules/<int:pk>/delete/", views.rule_delete_view, name="rule_delete"),
    path("tags/rules/<int:pk>/apply/", views.rule_apply, name="rule_apply"),
    path("tags/bulk/", views.bulk_jobs, name="bulk_jobs"),
    path("tags/bulk/new/", views.bulk_upload, name="bulk_upload"),
    path("tags/bulk/<int:pk>/", views.bulk_job_detail, name="bulk_job"),
    path("tags/bulk/<int:pk>/progress/", views.bulk_job_progress_view, name="bulk_job_progress"),
    path("tags/bulk/<int:pk>/cancel/", views.bulk_job_cancel_view, name="bulk_job_cancel"),
    path("tags/bulk/<int:pk>/report.csv", views.bulk_job_report_view, name="bulk_job_report"),
]
