(function () {
  // The guide session: #t=<token> from the sign-in, sent as a header (no cookies in WeCom's
  // webview). It is kept in sessionStorage when the page may use it; a cross-site frame
  // (the sandbox's chat window) is denied storage by Chromium, and there the token lives
  // in this page only. A 401 sends the guide through WeCom's OAuth2 again.
  var app = document.getElementById("app");
  var storage = null;
  try { storage = window.sessionStorage; storage.getItem("sidebarToken"); } catch (e) { storage = null; }
  var match = location.hash.match(/[#&]t=([^&]+)/);
  var token = match ? decodeURIComponent(match[1]) : (storage && storage.getItem("sidebarToken"));
  if (match) {
    if (storage) storage.setItem("sidebarToken", token);
    history.replaceState(null, "", location.pathname + location.search);
  }
  function login() { location.href = app.dataset.login + "?next=" + encodeURIComponent(location.pathname); }
  if (!token) { window.sidebarFetch = null; login(); return; }
  window.sidebarFetch = function (url, options) {
    options = options || {};
    options.headers = Object.assign({"Accept": "application/json"}, options.headers || {});
    options.headers[app.dataset.header] = token;
    return fetch(url, options).then(function (response) {
      if (response.status === 401) {
        if (storage) storage.removeItem("sidebarToken");
        login();
      }
      return response;
    });
  };
})();
