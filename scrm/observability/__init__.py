"""Platform health: structured logs, WeCom call counters, the health page and /metrics.

- `context`: the request id of the current request or task (a contextvar).
- `logs`: the logging filter that stamps every record with tenant and request id, the JSON
  formatter settings, the request-id middleware and the Celery hooks.
- `wecom_stats`: per-tenant counters of WeCom calls by API and errcode (Redis).
- `health`: one snapshot per tenant (callback backlog and lag, queued tasks, WeCom errors,
  last sync), read by the platform admin's health page and by `/metrics`.
"""
