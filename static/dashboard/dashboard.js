// The operator dashboard's charts, drawn with ECharts from the JSON the page embeds
// (#dashboard-data, built by dashboard.views.chart_data; texts in the operator's language).
// Each chart area gets data-rendered="true" once drawn, or "empty" with a note when there
// is nothing to draw.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source) return;
  var data = JSON.parse(source.textContent);

  var colors = {
    adds: "#1677ff",
    deleted_by_customer: "#d4380d",
    deleted_by_guide: "#fa8c16",
    vanished: "#8c8c8c",
    net: "#389e0d",
    lost: "#d4380d", // a channel's losses, and the lost stage
    new: "#69b1ff",
    engaged: "#1677ff",
    first_order: "#13c2c2",
    repeat: "#389e0d",
    dormant: "#bfbfbf"
  };

  function note(el, text) {
    el.innerHTML = "";
    var p = document.createElement("p");
    p.className = "chart-note";
    p.textContent = text;
    el.appendChild(p);
    el.dataset.rendered = "empty";
  }

  function draw(id, hasData, option) {
    var el = document.getElementById(id);
    if (!el) return;
    if (typeof window.echarts === "undefined") {
      note(el, data.empty);
      return;
    }
    if (!hasData) {
      note(el, data.empty);
      return;
    }
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    option.animation = false;
    chart.setOption(option);
    el.dataset.rendered = "true";
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function shortDays(days) {
    return days.map(function (d) { return d.slice(5); });
  }

  var growth = data.growth;
  draw("chart-growth", growth.has_data, {
    color: growth.series.map(function (s) { return colors[s.key] || "#888"; }),
    tooltip: { trigger: "axis" },
    legend: { type: "scroll", top: 0, data: growth.series.map(function (s) { return s.name; }) },
    grid: { left: 48, right: 24, top: 36, bottom: 40 },
    xAxis: { type: "category", data: shortDays(growth.days) },
    yAxis: { type: "value", minInterval: 1 },
    series: growth.series.map(function (s) {
      return { id: s.key, name: s.name, type: s.type, data: s.data, barMaxWidth: 14 };
    })
  });

  var channels = data.channels;
  draw("chart-channels", channels.names.length > 0, {
    color: [colors.adds, colors.lost],
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0, data: [channels.adds_name, channels.lost_name] },
    grid: { left: 8, right: 24, top: 30, bottom: 8, containLabel: true },
    xAxis: { type: "value", minInterval: 1 },
    // the best channel on top
    yAxis: { type: "category", data: channels.names.slice().reverse() },
    series: [
      { id: "adds", name: channels.adds_name, type: "bar", data: channels.adds.slice().reverse(), barMaxWidth: 14 },
      { id: "lost", name: channels.lost_name, type: "bar", data: channels.lost.slice().reverse(), barMaxWidth: 14 }
    ]
  });

  draw("chart-funnel", data.funnel.length > 0, {
    color: data.funnel.map(function (s) { return colors[s.key]; }),
    tooltip: { trigger: "item", formatter: "{b}: {c}" },
    series: [{
      id: "funnel",
      type: "funnel",
      sort: "none",
      top: 10,
      bottom: 10,
      left: "4%",
      width: "62%",
      minSize: "16%",
      label: { position: "right", formatter: "{b}  {c}" },
      data: data.funnel.map(function (s) { return { name: s.name, value: s.value }; })
    }]
  });

  var stages = data.stages;
  draw("chart-stages", stages.has_data, {
    color: stages.series.map(function (s) { return colors[s.key] || "#888"; }),
    tooltip: { trigger: "axis" },
    legend: { type: "scroll", top: 0, data: stages.series.map(function (s) { return s.name; }) },
    grid: { left: 56, right: 24, top: 36, bottom: 40 },
    xAxis: { type: "category", data: shortDays(stages.days) },
    yAxis: { type: "value", minInterval: 1 },
    series: stages.series.map(function (s) {
      return { id: s.key, name: s.name, type: "line", stack: "stages", areaStyle: {}, symbol: "none", connectNulls: false, data: s.data };
    })
  });
})();
