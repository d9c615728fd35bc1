"""Pages the WeCom client shows, imitated: the OAuth2 authorize step and a chat window that
hosts a sidebar page in an iframe and answers its JS-SDK calls.

- `GET /connect/oauth2/authorize?appid=CORPID&redirect_uri=…&response_type=code&scope=…
  &state=…` redirects to redirect_uri with a single-use `code` (valid 5 minutes of sandbox
  time) for the member signed in to the client: the `sandbox_userid` query parameter, else
  the member the chat window was opened for (a cookie on the sandbox's host), else a page
  to pick one. A redirect_uri outside the corp's trusted domains is refused (50001).
- `GET /client/jweixin.js`: the JS-SDK as the sandbox provides it. A page loads it instead
  of WeCom's script; wx.config / wx.agentConfig / wx.invoke are passed to the chat window
  around the page, which asks the sandbox (`POST /sandbox/corps/{corp}/jssdk/call`) to
  verify signatures and answer.
- `GET /client/{corp}/chat?userid=…&external_userid=…&url=…`: the chat window of member
  `userid` with customer `external_userid`, the sidebar page `url` beside it.
"""

import html
import json
import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from wecom_sandbox import jssdk
from wecom_sandbox.sandbox import Sandbox

CLIENT_COOKIE = "sandbox_client_userid"
CHAT_PATH = re.compile(r"^/client/(?P<corp>[^/]+)/chat/?$")


@dataclass
class Page:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _html(status: int, title: str, body: str) -> Page:
    document = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f2f3f5}"
        "main{max-width:720px;margin:0 auto;padding:16px}"
        "a.member{display:block;padding:12px;margin:8px 0;background:#fff;border-radius:8px}"
        ".err{color:#c00}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return Page(status, document.encode("utf-8"))


def _error(errcode: int, message: str) -> Page:
    return _html(
        400,
        "错误 / Error",
        f"<h1 class='err'>{errcode}</h1><p class='err'>{html.escape(message)}</p>",
    )


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _cookie(headers: Any, name: str) -> str:
    raw = headers.get("Cookie") or ""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed cookie header is no cookie
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ""


def authorize(sb: Sandbox, query: dict[str, str], headers: Any) -> Page:
    with sb.state.lock:
        corp = sb.state.corps.get(query.get("appid", ""))
        if corp is None:
            return _error(40013, "appid 不是有效的企业 ID / invalid corp id")
        redirect_uri = query.get("redirect_uri", "")
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return _error(40058, "redirect_uri 无效 / invalid redirect_uri")
        if not jssdk.trusted(corp, redirect_uri):
            return _error(
                50001,
                "redirect_uri 与企业的可信域名不一致 / redirect_uri is not a trusted domain "
                f"of the corp ({urlsplit(redirect_uri).hostname})",
            )
        userid = query.get("sandbox_userid") or _cookie(headers, CLIENT_COOKIE)
        if not userid:
            members = [m for m in corp.members.values() if m.active]
            links = "".join(
                f"<a class='member' href='{html.escape(_with_query_self(query, m.userid))}'>"
                f"{html.escape(m.name)} <small>({html.escape(m.userid)})</small></a>"
                for m in members[:200]
            )
            return _html(
                200,
                "企业微信授权 / Sign in",
                f"<h1>{html.escape(corp.name)}</h1><p>以哪位成员登录？/ Sign in as:</p>{links}",
            )
        member = corp.members.get(userid)
        if member is None or not member.active:
            return _error(60111, f"成员不存在或已离职 / no active member {userid}")
        code = jssdk.code_issue(corp, userid, sb.now())
    params = {"code": code}
    if query.get("state"):
        params["state"] = query["state"]
    return Page(302, b"", headers={"Location": _with_query(redirect_uri, params)})


def _with_query_self(query: dict[str, str], userid: str) -> str:
    return "/connect/oauth2/authorize?" + urlencode({**query, "sandbox_userid": userid})


JWEIXIN_JS = r"""
(function () {
  // The sandbox's JS-SDK: calls go to the chat window around this page.
  var pending = {}, seq = 0, readyCallbacks = [], errorCallbacks = [], configured = null;
  var page = Math.random().toString(36).slice(2);
  function call(method, args) {
    return new Promise(function (resolve) {
      if (window.parent === window) {
        resolve({err_msg: method + ":fail, open this page from the sandbox's chat window"});
        return;
      }
      var id = ++seq;
      pending[id] = resolve;
      // Only data crosses to the chat window: postMessage cannot clone the success / fail
      // callbacks WeCom's API takes inside the options (wx.agentConfig).
      window.parent.postMessage({sandboxJssdk: true, id: id, page: page, method: method,
        args: JSON.parse(JSON.stringify(args || {})), url: location.href.split("#")[0]}, "*");
    });
  }
  window.addEventListener("message", function (event) {
    var data = event.data || {};
    if (data.sandboxJssdkReply && pending[data.sandboxJssdkReply]) {
      pending[data.sandboxJssdkReply](data.result || {});
      delete pending[data.sandboxJssdkReply];
    }
  });
  function ok(res) { return /:ok$/.test(res.err_msg || ""); }
  window.wx = {
    config: function (options) {
      call("config", options).then(function (res) {
        configured = ok(res);
        (configured ? readyCallbacks : errorCallbacks).forEach(function (fn) { fn(res); });
      });
    },
    ready: function (fn) { if (configured === true) fn(); else readyCallbacks.push(fn); },
    error: function (fn) { if (configured === false) fn({}); else errorCallbacks.push(fn); },
    agentConfig: function (options) {
      call("agentConfig", options).then(function (res) {
        if (ok(res)) { options.success && options.success(res); }
        else { options.fail && options.fail(res); }
      });
    },
    invoke: function (name, args, callback) {
      call("invoke", {name: name, args: args || {}}).then(function (res) {
        callback && callback(res);
      });
    },
    checkJsApi: function (options) {
      options.success && options.success({errMsg: "checkJsApi:ok"});
    }
  };
})();
"""


CHAT_JS = r"""
(function () {
  var frame = document.getElementById("sidebar");
  var log = document.getElementById("log");
  var context = JSON.parse(document.getElementById("context").textContent);
  window.addEventListener("message", function (event) {
    var data = event.data || {};
    if (!data.sandboxJssdk || event.source !== frame.contentWindow) return;
    fetch("/sandbox/corps/" + context.corp + "/jssdk/call", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({page: data.page, userid: context.userid,
        external_userid: context.external_userid, method: data.method,
        args: data.args, url: data.url})
    }).then(function (r) { return r.json(); }).then(function (result) {
      var item = document.createElement("li");
      var name = data.method === "invoke" ? data.args.name : data.method;
      item.textContent = name + " → " + (result.err_msg || JSON.stringify(result));
      log.prepend(item);
      frame.contentWindow.postMessage({sandboxJssdkReply: data.id, result: result}, "*");
    });
  });
})();
"""


def chat(sb: Sandbox, corp_id: str, query: dict[str, str]) -> Page:
    userid = query.get("userid", "")
    external_userid = query.get("external_userid", "")
    url = query.get("url", "")
    with sb.state.lock:
        corp = sb.state.corps.get(corp_id)
        if corp is None:
            return _error(40013, f"no corp {corp_id}")
        member = corp.members.get(userid)
        if member is None or not member.active:
            return _error(60111, f"no active member {userid}")
        customer = corp.customers.get(external_userid) if external_userid else None
        if external_userid and customer is None:
            return _error(40096, f"no customer {external_userid}")
        customer_name = customer.name if customer is not None else ""
        member_name = member.name
    if urlsplit(url).scheme not in ("http", "https"):
        return _error(40058, "url: the sidebar page to open (http or https)")
    context = json.dumps(
        {"corp": corp_id, "userid": userid, "external_userid": external_userid}
    ).replace("</", "<\\/")
    body = (
        "<style>main{max-width:none;display:flex;gap:12px;height:100vh;box-sizing:border-box}"
        "#chat{flex:1;min-width:200px}#side{width:400px;display:flex;flex-direction:column}"
        "iframe{flex:1;border:1px solid #ccc;border-radius:8px;background:#fff}"
        "#log{font-size:12px;max-height:30vh;overflow:auto}</style>"
        f"<section id='chat'><h1>{html.escape(member_name)} ↔ "
        f"{html.escape(customer_name or external_userid or '—')}</h1>"
        "<p>企业微信沙箱：聊天窗口与侧边栏 / sandbox chat window with its sidebar</p>"
        "<ol id='log'></ol></section>"
        f"<section id='side'><iframe id='sidebar' title='sidebar' src='{html.escape(url)}'>"
        "</iframe></section>"
        f"<script type='application/json' id='context'>{context}</script>"
        f"<script>{CHAT_JS}</script>"
    )
    page = _html(200, "企业微信 / WeCom", body)
    # The member is signed in to the client: the OAuth step inside the sidebar (an iframe of
    # another site) knows them. SameSite=None needs Secure; browsers accept it on http for
    # 127.0.0.1 and localhost, where the sandbox runs.
    page.headers["Set-Cookie"] = f"{CLIENT_COOKIE}={userid}; Path=/; SameSite=None; Secure"
    return page


def handle_page(sb: Sandbox, method: str, path: str, query: dict[str, str], headers: Any) -> Page:
    if method != "GET":
        return _error(40058, f"{method} not allowed")
    if path.rstrip("/") == "/connect/oauth2/authorize":
        return authorize(sb, query, headers)
    if path == "/client/jweixin.js":
        return Page(200, JWEIXIN_JS.encode(), content_type="application/javascript")
    match = CHAT_PATH.match(path)
    if match:
        return chat(sb, match["corp"], query)
    return Page(404, b"not found", content_type="text/plain")
