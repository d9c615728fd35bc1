/*
 * A running handover's page: polls the handover's progress JSON and updates the bar and the
 * counts per status; when the handover's status changes, reloads once to show the new state.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var url = script.getAttribute("data-url");
  var interval = Number(script.getAttribute("data-interval")) || 3000;
  var initialStatus = script.getAttribute("data-status");
  var progressText = script.getAttribute("data-progress-text");
  var bar = document.querySelector("[data-progress-bar]");
  var text = document.querySelector("[data-progress-text]");
  var status = document.querySelector("[data-handover-status]");

  function update(data) {
    bar.max = data.total || 1;
    bar.value = data.total ? data.final : 1;
    text.textContent = progressText.replace("%(done)s", data.final).replace("%(total)s", data.total);
    status.textContent = data.status_display;
    document.querySelectorAll("[data-count]").forEach(function (node) {
      var name = node.getAttribute("data-count");
      if (data.counts && name in data.counts) {
        node.textContent = data.counts[name];
      }
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
        if (data.status !== initialStatus) {
          window.location.reload();
        } else if (data.running) {
          setTimeout(poll, interval);
        }
      })
      .catch(function () {
        setTimeout(poll, interval * 3);
      });
  }

  setTimeout(poll, interval);
})();
