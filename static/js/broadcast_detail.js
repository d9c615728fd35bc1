/*
 * A group send's page while something happens by itself (planning, creating the messages
 * in WeCom, results coming in): polls the progress JSON, updates the bar, its text and the
 * counts; reloads once when the status changes, to show the plan, the buttons, the guides'
 * messages and the results.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var url = script.getAttribute("data-url");
  var interval = Number(script.getAttribute("data-interval")) || 2000;
  var shown = script.getAttribute("data-status");
  var bar = document.querySelector("[data-progress-bar]");
  var text = document.querySelector("[data-progress-text]");
  var percent = document.querySelector("[data-progress-percent]");
  var status = document.querySelector("[data-broadcast-status]");

  function update(data) {
    if (bar) {
      bar.value = data.percent;
      bar.setAttribute("data-phase", data.phase);
    }
    if (text) {
      text.textContent = data.text;
    }
    if (percent) {
      percent.textContent = data.percent;
    }
    status.textContent = data.status_display;
    document.querySelectorAll("[data-count]").forEach(function (node) {
      var name = node.getAttribute("data-count");
      node.textContent = data.counts[name] || 0;
    });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (data) {
        update(data);
        if (data.status !== shown) {
          window.location.reload();
          return;
        }
        if (data.live) {
          setTimeout(poll, data.poll_ms || interval);
        }
      })
      .catch(function () {
        setTimeout(poll, interval * 3);
      });
  }

  setTimeout(poll, interval);
})();
