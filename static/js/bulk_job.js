/*
 * A running bulk tagging job's page: polls the job's progress JSON and updates the bar and
 * the counts; when the job stops running, reloads once to show the final state and rows.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var url = script.getAttribute("data-url");
  var interval = Number(script.getAttribute("data-interval")) || 2000;
  var rowsText = script.getAttribute("data-rows-text");
  var bar = document.querySelector("[data-progress-bar]");
  var text = document.querySelector("[data-progress-text]");
  var status = document.querySelector("[data-job-status]");

  function update(data) {
    bar.max = data.total || 1;
    bar.value = data.total ? data.processed : 1;
    text.textContent = rowsText.replace("%(done)s", data.processed).replace("%(total)s", data.total);
    status.textContent = data.status_display;
    document.querySelectorAll("[data-count]").forEach(function (node) {
      var name = node.getAttribute("data-count");
      if (name in data) {
        node.textContent = data[name];
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
        if (data.running) {
          setTimeout(poll, interval);
        } else {
          window.location.reload();
        }
      })
      .catch(function () {
        setTimeout(poll, interval * 3);
      });
  }

  setTimeout(poll, interval);
})();
