/*
 * The segment condition builder: nested AND/OR groups of conditions, kept as JSON in the
 * form's definition field (the form posts that field; the server checks it), and a live
 * count of matching customers fetched (debounced) from the preview endpoint on every change.
 * Plain DOM, no framework. The page provides the fields, choices, labels and texts as
 * JSON in #segment-builder-config.
 */
(function () {
  "use strict";

  var MAX_DEPTH = 4;
  var PREVIEW_DELAY_MS = 400;
  var SEARCH_DELAY_MS = 250;

  var configNode = document.getElementById("segment-builder-config");
  var root = document.getElementById("segment-builder");
  if (!configNode || !root) {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var T = config.text;
  var form = document.getElementById("segment-form");
  var textarea = document.getElementById(root.getAttribute("data-definition-field"));
  var preview = document.getElementById("segment-preview");
  var details = document.getElementById("definition-json");
  var csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;

  var fields = {};
  config.fields.forEach(function (field) {
    fields[field.value] = field;
  });
  // field -> {String(value): label}: the choices, the labels of values already used, and
  // the guides picked through the search
  var labels = {};
  Object.keys(config.choices).forEach(function (name) {
    labels[name] = {};
    config.choices[name].forEach(function (group) {
      group.options.forEach(function (option) {
        labels[name][String(option[0])] = option[1];
      });
    });
  });
  Object.keys(config.labels).forEach(function (name) {
    labels[name] = labels[name] || {};
    Object.keys(config.labels[name]).forEach(function (value) {
      if (!(value in labels[name])) {
        labels[name][value] = config.labels[name][value];
      }
    });
  });

  var tree = null;

  // --- small DOM helpers ----------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  function button(text, onClick, className) {
    var node = el("button", className || "", text);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function select(options, value) {
    var node = el("select");
    options.forEach(function (option) {
      var item = el("option", "", option[1]);
      item.value = String(option[0]);
      node.appendChild(item);
    });
    node.value = String(value);
    return node;
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (match, name) {
      return name in values ? values[name] : match;
    });
  }

  // --- the model ------------------------------------------------------------------------

  function isCondition(node) {
    return node && typeof node === "object" && "field" in node;
  }

  function normalize(node) {
    if (isCondition(node)) {
      return node;
    }
    node = node && typeof node === "object" && !Array.isArray(node) ? node : {};
    return {
      op: node.op === "or" ? "or" : "and",
      rules: (Array.isArray(node.rules) ? node.rules : []).map(normalize),
    };
  }

  function parseDefinition() {
    try {
      var parsed = JSON.parse(textarea.value);
    } catch (error) {
      return null;
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      return null;
    }
    return isCondition(parsed) ? { op: "and", rules: [parsed] } : normalize(parsed);
  }

  function newCondition(name) {
    var field = fields[name];
    if (field.kind === "dates") {
      return { field: name, op: "between", from: null, to: null };
    }
    return { field: name, op: field.ops[0][0], values: [] };
  }

  function labelOf(name, value) {
    var known = labels[name] && labels[name][String(value)];
    return known === undefined ? null : known;
  }

  // --- rendering ------------------------------------------------------------------------

  function render() {
    root.textContent = "";
    root.appendChild(groupNode(tree, null, 1));
    changed();
  }

  function groupNode(group, parent, depth) {
    var box = el("div", "sb-group");
    var head = el("div", "sb-head");
    var op = select(
      [
        ["and", T.and],
        ["or", T.or],
      ],
      group.op
    );
    op.addEventListener("change", function () {
      group.op = op.value;
      changed();
    });
    head.appendChild(op);
    if (parent) {
      head.appendChild(
        button(T.removeGroup, function () {
          parent.rules.splice(parent.rules.indexOf(group), 1);
          render();
        })
      );
    }
    box.appendChild(head);

    var list = el("ul", "sb-rules");
    if (!group.rules.length) {
      list.appendChild(el("li", "sb-empty", T.emptyGroup));
    }
    group.rules.forEach(function (rule) {
      var item = el("li");
      item.appendChild(
        isCondition(rule) ? conditionNode(rule, group) : groupNode(rule, group, depth + 1)
      );
      list.appendChild(item);
    });
    box.appendChild(list);

    var actions = el("div", "sb-actions");
    actions.appendChild(
      button(T.addCondition, function () {
        group.rules.push(newCondition("tags"));
        render();
      })
    );
    if (depth < MAX_DEPTH) {
      actions.appendChild(
        button(T.addGroup, function () {
          group.rules.push({
            op: group.op === "and" ? "or" : "and",
            rules: [newCondition("tags")],
          });
          render();
        })
      );
    }
    box.appendChild(actions);
    return box;
  }

  function conditionNode(condition, group) {
    var row = el("div", "sb-cond");
    var remove = button(T.remove, function () {
      group.rules.splice(group.rules.indexOf(condition), 1);
      render();
    });
    var field = fields[condition.field];
    if (!field) {
      // not something the builder knows: shown as JSON, the server says what is wrong
      row.appendChild(el("code", "", JSON.stringify(condition)));
      row.appendChild(remove);
      return row;
    }
    var fieldSelect = select(
      config.fields.map(function (f) {
        return [f.value, f.label];
      }),
      condition.field
    );
    fieldSelect.addEventListener("change", function () {
      group.rules[group.rules.indexOf(condition)] = newCondition(fieldSelect.value);
      render();
    });
    var opSelect = select(field.ops, condition.op);
    opSelect.addEventListener("change", function () {
      condition.op = opSelect.value;
      changed();
    });
    var values = el("span", "sb-values");
    renderValues(condition, field, values);
    row.appendChild(fieldSelect);
    row.appendChild(opSelect);
    row.appendChild(values);
    row.appendChild(remove);
    return row;
  }

  function renderValues(condition, field, box) {
    box.textContent = "";
    if (field.kind === "dates") {
      ["from", "to"].forEach(function (end) {
        var label = el("label", "", T[end] + " ");
        var input = el("input");
        input.type = "date";
        input.value = condition[end] || "";
        input.addEventListener("change", function () {
          condition[end] = input.value || null;
          changed();
        });
        label.appendChild(input);
        box.appendChild(label);
      });
      return;
    }
    if (!Array.isArray(condition.values)) {
      condition.values = [];
    }
    condition.values.forEach(function (value) {
      var label = labelOf(field.value, value);
      var chip = el("span", label === null ? "chip unknown" : "chip");
      chip.appendChild(document.createTextNode(label === null ? value + " " + T.unknown : label));
      var x = button("×", function () {
        condition.values.splice(condition.values.indexOf(value), 1);
        renderValues(condition, field, box);
        changed();
      });
      x.setAttribute("aria-label", T.remove + " " + (label || value));
      chip.appendChild(x);
      box.appendChild(chip);
    });
    if (field.kind === "guide") {
      box.appendChild(guidePicker(condition, field, box));
    } else {
      box.appendChild(choicePicker(condition, field, box));
    }
  }

  function addValue(condition, field, box, raw) {
    var value = field.numeric ? Number(raw) : String(raw);
    if (condition.values.indexOf(value) === -1) {
      condition.values.push(value);
    }
    renderValues(condition, field, box);
    changed();
  }

  function choicePicker(condition, field, box) {
    var picker = el("select");
    var placeholder = el("option", "", T.addValue);
    placeholder.value = "";
    picker.appendChild(placeholder);
    var chosen = condition.values.map(String);
    (config.choices[field.value] || []).forEach(function (group) {
      var parent = picker;
      if (group.group) {
        parent = el("optgroup");
        parent.label = group.group;
        picker.appendChild(parent);
      }
      group.options.forEach(function (option) {
        if (chosen.indexOf(String(option[0])) !== -1) {
          return;
        }
        var item = el("option", "", option[1]);
        item.value = String(option[0]);
        parent.appendChild(item);
      });
    });
    picker.addEventListener("change", function () {
      if (picker.value !== "") {
        addValue(condition, field, box, picker.value);
      }
    });
    return picker;
  }

  function guidePicker(condition, field, box) {
    var wrap = el("span");
    var input = el("input");
    input.type = "search";
    input.placeholder = T.searchGuide;
    var results = el("ul", "sb-guide-results");
    results.hidden = true;
    var timer = null;
    var controller = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (!q) {
          results.hidden = true;
          return;
        }
        if (controller) {
          controller.abort();
        }
        controller = new AbortController();
        fetch(config.guideSearchUrl + "?q=" + encodeURIComponent(q), {
          signal: controller.signal,
          credentials: "same-origin",
        })
          .then(function (response) {
            return response.json();
          })
          .then(function (data) {
            results.textContent = "";
            if (!data.results.length) {
              results.appendChild(el("li", "muted", T.noGuide));
            }
            data.results.forEach(function (guide) {
              var item = el("li");
              item.appendChild(
                button(guide.label, function () {
                  labels.guide = labels.guide || {};
                  labels.guide[String(guide.id)] = guide.label;
                  addValue(condition, field, box, guide.id);
                })
              );
              results.appendChild(item);
            });
            results.hidden = false;
          })
          .catch(function () {});
      }, SEARCH_DELAY_MS);
    });
    wrap.appendChild(input);
    wrap.appendChild(results);
    return wrap;
  }

  // --- keeping the field and the count current ---------------------------------------------

  var previewTimer = null;
  var previewController = null;

  function showPreview(text, isError) {
    preview.hidden = false;
    preview.className = isError ? "sb-preview error" : "sb-preview";
    preview.textContent = text;
  }

  function fetchCount() {
    if (previewController) {
      previewController.abort();
    }
    previewController = new AbortController();
    var body = new FormData();
    body.append("csrfmiddlewaretoken", csrf);
    body.append("definition", textarea.value);
    fetch(config.previewUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf },
      signal: previewController.signal,
    })
      .then(function (response) {
        return response.json();
      })
      .then(function (data) {
        if ("count" in data) {
          preview.hidden = false;
          preview.className = "sb-preview";
          preview.textContent = "";
          var parts = T.count.split("%(count)s");
          preview.appendChild(document.createTextNode(parts[0]));
          preview.appendChild(el("strong", "", Number(data.count).toLocaleString()));
          preview.appendChild(document.createTextNode(parts.slice(1).join("")));
        } else {
          showPreview(format(T.error, { error: data.error }), true);
        }
      })
      .catch(function (error) {
        if (error.name !== "AbortError") {
          showPreview(T.failed, true);
        }
      });
  }

  function changed() {
    textarea.value = JSON.stringify(tree);
    showPreview(T.counting, false);
    clearTimeout(previewTimer);
    previewTimer = setTimeout(fetchCount, PREVIEW_DELAY_MS);
  }

  textarea.addEventListener("change", function () {
    var parsed = parseDefinition();
    if (parsed === null) {
      showPreview(T.badJson, true);
      return;
    }
    tree = parsed;
    render();
  });

  form.addEventListener("submit", function () {
    if (tree !== null && parseDefinition() !== null) {
      textarea.value = JSON.stringify(tree);
    }
  });

  tree = parseDefinition();
  if (tree === null) {
    showPreview(T.badJson, true);
    details.open = true;
  } else {
    render();
  }
})();
