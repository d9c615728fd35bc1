/*
 * The new-group-send page: shows the audience, store and time fields that apply, counts the
 * chosen segment's customers now, and draws the message on the phone preview as a customer
 * sees it ({guide_name} replaced by a sample guide's name).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var form = document.getElementById("broadcast-form");
  var body = document.querySelector("[data-preview-body]");
  var sampleGuide = script.getAttribute("data-sample-guide");
  var placeholder = script.getAttribute("data-placeholder");

  function checked(name) {
    var input = form.querySelector("input[name=" + name + "]:checked");
    return input ? input.value : "";
  }

  function toggle() {
    var audience = checked("audience");
    form.querySelectorAll("[data-audience-part]").forEach(function (part) {
      part.hidden = part.getAttribute("data-audience-part") !== audience;
    });
    form.querySelector("[data-store-part]").hidden = checked("sender_rule") !== "store";
    form.querySelector("[data-when-part]").hidden = checked("when") !== "later";
  }

  function bubble(text, kind) {
    var row = document.createElement("div");
    row.className = "bubble-row";
    var dot = document.createElement("span");
    dot.className = "avatar-dot";
    dot.textContent = sampleGuide.slice(0, 1);
    var item = document.createElement("div");
    item.className = "bubble" + (kind ? " " + kind : "");
    if (kind === "card") {
      var title = document.createElement("strong");
      title.textContent = text.title;
      var address = document.createElement("span");
      address.textContent = text.url;
      item.appendChild(title);
      item.appendChild(address);
    } else {
      item.textContent = text;
    }
    row.appendChild(dot);
    row.appendChild(item);
    body.appendChild(row);
  }

  function preview() {
    body.textContent = "";
    var text = form.querySelector("[name=text]").value.trim();
    if (text) {
      bubble(text.split(placeholder).join(sampleGuide));
    }
    var media = form.querySelector("[name=media_assets]");
    Array.prototype.forEach.call(media.selectedOptions, function (option) {
      bubble("📎 " + option.textContent.trim(), "media");
    });
    form.querySelector("[name=links]").value.split("\n").forEach(function (line) {
      var parts = line.split(/\s*[|｜]\s*/);
      if (line.trim() && parts.length >= 2) {
        bubble({ title: parts[0], url: parts[1] }, "card");
      }
    });
    if (!body.children.length) {
      var empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = script.getAttribute("data-empty");
      body.appendChild(empty);
    }
  }

  var counted = document.querySelector("[data-segment-count]");
  function count() {
    var segment = form.querySelector("[name=segment]").value;
    counted.textContent = "";
    if (!segment) {
      return;
    }
    counted.textContent = script.getAttribute("data-counting");
    var url = script.getAttribute("data-count-url") + "?segment=" + encodeURIComponent(segment);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (form.querySelector("[name=segment]").value !== segment) {
          return;
        }
        counted.textContent = "count" in data
          ? script.getAttribute("data-count-text") + " " + data.count
          : data.error;
        counted.classList.toggle("segment-count", "count" in data);
      })
      .catch(function () { counted.textContent = ""; });
  }

  form.addEventListener("change", function (event) {
    toggle();
    preview();
    if (event.target.name === "segment") {
      count();
    }
  });
  form.addEventListener("input", preview);
  toggle();
  preview();
  count();
})();
