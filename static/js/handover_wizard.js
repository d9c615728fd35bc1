/*
 * The handover wizard: shows only the fields the chosen allocation needs, and counts the
 * characters of the message to customers (WeCom allows 200).
 */
(function () {
  "use strict";

  var form = document.getElementById("handover-form");
  if (!form) {
    return;
  }
  var needs = {
    one: ["takers"],
    even_store: [],
    even_chosen_store: ["store"],
    even_list: ["takers"],
    csv: ["csv_file", "csv_kept"]
  };
  var optional = ["takers", "store", "csv_file", "csv_kept"];

  function chosenMode() {
    var checked = form.querySelector("input[name=mode]:checked");
    return checked ? checked.value : "";
  }

  function showFields() {
    var wanted = needs[chosenMode()] || optional;
    optional.forEach(function (name) {
      form.querySelectorAll("[data-field='" + name + "']").forEach(function (node) {
        node.classList.toggle("hidden-by-mode", wanted.indexOf(name) < 0);
      });
    });
  }

  form.querySelectorAll("input[name=mode]").forEach(function (input) {
    input.addEventListener("change", showFields);
  });
  showFields();

  var message = form.querySelector("textarea[name=message]");
  if (message) {
    var counter = document.createElement("span");
    counter.className = "helptext";
    message.insertAdjacentElement("afterend", counter);
    var count = function () {
      counter.textContent = Array.from(message.value).length + " / 200";
    };
    message.addEventListener("input", count);
    count();
  }
})();
