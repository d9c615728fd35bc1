// The channel page's chart: adds and deletions (bars) and net adds (line) per day, drawn
// with ECharts from the page's JSON endpoint (data-url). Texts come from the server in the
// operator's language.
(function () {
  "use strict";
  var el = document.getElementById("channel-chart");
  if (!el) return;

  function note(text) {
    el.innerHTML = "";
    var p = document.createElement("p");
    p.className = "chart-note";
    p.textContent = text;
    el.appendChild(p);
  }

  if (typeof window.echarts === "undefined") {
    note(el.dataset.failed);
    return;
  }

  var colors = { adds: "#1677ff", deletions: "#d4380d", net: "#389e0d" };

  fetch(el.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) throw new Error(response.status);
      return response.json();
    })
    .then(function (data) {
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption({
        animation: false,
        color: data.series.map(function (s) { return colors[s.key] || "#888"; }),
        tooltip: { trigger: "axis" },
        legend: { top: 0, data: data.series.map(function (s) { return s.name; }) },
        grid: { left: 48, right: 24, top: 36, bottom: 40 },
        xAxis: { type: "category", data: data.days.map(function (d) { return d.slice(5); }) },
        yAxis: { type: "value", minInterval: 1 },
        series: data.series.map(function (s) {
          return {
            id: s.key,
            name: s.name,
            type: s.type,
            data: s.data,
            smooth: false,
            barMaxWidth: 18,
          };
        }),
      });
      el.dataset.rendered = "true";
      window.addEventListener("resize", function () { chart.resize(); });
    })
    .catch(function () { note(el.dataset.failed); });
})();
