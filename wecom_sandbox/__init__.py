"""A local stand-in for WeCom's (企业微信) server API, for tests, benchmarks and the demo.

Run it with `python -m wecom_sandbox --port 8090`; drive it from Python with
`wecom_sandbox.testing.SandboxProcess` and `SandboxControl`. It imports nothing from the
project and production code never imports it. See docs/wecom-sandbox.md.
"""
