/* The guide sidebar (聊天工具栏): configures the JS-SDK, asks WeCom who the chat is with,
   and shows that customer: card and tags, notes and follow-ups, timeline, quick replies.
   No framework; every text from the server goes in with textContent. */
(function () {
  "use strict";
  if (!window.sidebarFetch) return; // off to sign in

  var ctx = JSON.parse(document.getElementById("sidebar-context").textContent);
  var L = ctx.labels, U = ctx.urls;
  var app = document.getElementById("app");
  var toastBox = document.getElementById("toast");
  var state = {ext: "", data: null, tab: "profile", replies: null, timelineStale: false};
  var tagNames = {};

  // --- helpers ------------------------------------------------------------------------

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    for (var i = 2; i < arguments.length; i++) {
      [].concat(arguments[i]).forEach(function (child) {
        if (child === null || child === undefined || child === false) return;
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      });
    }
    return node;
  }

  function link(name, pk) {
    return U[name].replace("EXTERNAL_USERID", encodeURIComponent(state.ext)).replace("PK", pk);
  }

  function when(iso) { return iso ? iso.slice(0, 16).replace("T", " ") : ""; }

  var toastTimer = null;
  function toast(text, isError) {
    toastBox.textContent = text;
    toastBox.className = "toast" + (isError ? " error" : "");
    toastBox.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toastBox.hidden = true; }, isError ? 6000 : 2500);
  }

  function api(url, options) {
    return window.sidebarFetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) throw new Error(body.error || L.failed);
        return body;
      });
    }, function () { throw new Error(L.offline); });
  }

  function post(url, body) {
    return api(url, {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body || {})});
  }

  function fatal(message) {
    app.replaceChildren(el("p", {class: "status error", role: "alert", text: message}));
  }

  function busy(button, promise) {
    button.disabled = true;
    return promise.then(function (result) { button.disabled = false; return result; },
      function (error) { button.disabled = false; toast(error.message, true); throw error; });
  }

  // --- WeCom: JS-SDK and the current customer -------------------------------------------

  function start() {
    if (!ctx.connected || !window.wx) { fatal(L.no_wecom); return; }
    var page = location.href.split("#")[0];
    api(U.config + "?url=" + encodeURIComponent(page)).then(function (signed) {
      wx.config(signed.config);
      wx.error(function (res) {
        fatal(L.jssdk_failed + " (" + (res.errMsg || res.err_msg || "config") + ")");
      });
      wx.ready(function () {
        wx.agentConfig(Object.assign({}, signed.agentConfig, {
          success: currentContact,
          fail: function (res) {
            fatal(L.jssdk_failed + " (" + (res.err_msg || res.errMsg || "agentConfig") + ")");
          }
        }));
      });
    }).catch(function (error) { fatal(error.message); });
  }

  function currentContact() {
    wx.invoke("getCurExternalContact", {}, function (res) {
      if (res.err_msg === "getCurExternalContact:ok" && res.userId) load(res.userId);
      else fatal(L.not_in_chat);
    });
  }

  function load(ext) {
    state.ext = ext;
    api(link("customer")).then(function (data) {
      state.data = data;
      data.tags.groups.forEach(function (g) {
        g.tags.forEach(function (t) { tagNames[t.id] = t.name; });
      });
      render();
      app.dataset.ready = "1";
    }).catch(function (error) { fatal(error.message); });
  }

  // --- layout ---------------------------------------------------------------------------

  var TABS = [["profile", "profile"], ["follow", "follow"], ["timeline", "timeline"],
    ["replies", "replies"]];

  function render() {
    var card = state.data.card;
    var header = el("header", {class: "head"},
      card.avatar ? el("img", {class: "avatar", src: card.avatar, alt: "",
        referrerpolicy: "no-referrer", width: 48, height: 48,
        onerror: function (event) { event.target.removeAttribute("src"); }})
        : el("span", {class: "avatar"}),
      el("div", null,
        el("h1", {text: card.name || card.external_userid}),
        card.remark ? el("p", {class: "muted", text: card.remark}) : null));
    var nav = el("nav", {class: "tabs", role: "tablist"}, TABS.map(function (tab) {
      return el("button", {type: "button", role: "tab", id: "tab-" + tab[0],
        "aria-selected": String(state.tab === tab[0]), text: L[tab[1]],
        onclick: function () { state.tab = tab[0]; render(); }});
    }));
    var panel = el("section", {class: "panel", role: "tabpanel", id: "panel-" + state.tab});
    app.replaceChildren(header, nav, panel);
    ({profile: profile, follow: follow, timeline: timeline, replies: replies})[state.tab](panel);
  }

  // --- profile: card and tags -----------------------------------------------------------

  function fact(label, value) {
    return value ? [el("dt", {text: label}), el("dd", {text: value})] : [];
  }

  function profile(panel) {
    var card = state.data.card;
    var guides = card.guides.map(function (g) { return g.name + (g.mine ? " (" + L.you + ")" : ""); });
    panel.append(
      el("dl", {class: "facts"},
        fact(L.remark, card.remark),
        fact(L.phones, card.phones.join(", ")),
        fact(L.channel, card.channel || card.add_way),
        fact(L.added, when(card.added_at)),
        fact(L.guides, guides.join("、"))),
      el("h2", {text: L.tags}),
      tagsBox());
  }

  function tagsBox() {
    var tags = state.data.tags;
    var box = el("div", {id: "tags"});
    if (!tags.groups.length) { box.append(el("p", {class: "muted", text: L.no_tags})); return box; }
    if (!tags.editable) box.append(el("p", {class: "muted", text: L.tags_readonly}));
    tags.groups.forEach(function (group) {
      box.append(el("h3", {text: group.name}), el("div", {class: "chips"}, group.tags.map(function (tag) {
        var on = tags.marked.indexOf(tag.id) >= 0;
        return el("button", {type: "button", class: "chip" + (on ? " on" : ""), "data-tag-id": tag.id,
          "aria-pressed": String(on), disabled: !tags.editable, text: tag.name,
          onclick: function (event) { toggleTag(event.currentTarget, tag.id, on); }});
      })));
    });
    return box;
  }

  function toggleTag(button, tagId, on) {
    var change = on ? {remove: [tagId]} : {add: [tagId]};
    busy(button, post(link("tags"), change)).then(function (answer) {
      state.data.tags.marked = answer.marked;
      state.timelineStale = true;
      var box = document.getElementById("tags");
      if (box) box.replaceWith(tagsBox());
    }).catch(function () {});
  }

  // --- notes and follow-ups -------------------------------------------------------------

  function follow(panel) {
    var noteText = el("textarea", {id: "note-text", rows: 3, maxlength: 2000,
      placeholder: L.note_placeholder});
    var noteButton = el("button", {type: "submit", id: "note-add", class: "primary", text: L.add_note});
    var noteForm = el("form", {class: "stack", onsubmit: function (event) {
      event.preventDefault();
      busy(noteButton, post(link("notes"), {text: noteText.value})).then(function (answer) {
        state.data.notes.unshift(answer.note);
        state.timelineStale = true;
        toast(L.saved);
        render();
      }).catch(function () {});
    }}, noteText, noteButton);

    var tomorrow = new Date(Date.now() + 864e5);
    var title = el("input", {id: "follow-title", type: "text", maxlength: 200,
      placeholder: L.follow_up_placeholder});
    var due = el("input", {id: "follow-due", type: "date", "aria-label": L.due,
      value: tomorrow.getFullYear() + "-" + String(tomorrow.getMonth() + 1).padStart(2, "0") +
        "-" + String(tomorrow.getDate()).padStart(2, "0")});
    var followButton = el("button", {type: "submit", id: "follow-add", class: "primary",
      text: L.add_follow_up});
    var followForm = el("form", {class: "stack", onsubmit: function (event) {
      event.preventDefault();
      busy(followButton, post(link("follow_ups"), {title: title.value, due: due.value}))
        .then(function (answer) {
          state.data.follow_ups.unshift(answer.follow_up);
          state.timelineStale = true;
          toast(L.saved);
          render();
        }).catch(function () {});
    }}, title, el("div", {class: "row"}, due, followButton));

    var items = state.data.follow_ups.slice().sort(function (a, b) {
      if (!a.done_at !== !b.done_at) return a.done_at ? 1 : -1;
      return a.done_at ? b.done_at.localeCompare(a.done_at) : a.due_at.localeCompare(b.due_at);
    });
    panel.append(
      el("h2", {text: L.follow_ups}), followForm,
      items.length ? el("ul", {class: "items", id: "follow-ups"}, items.map(followUpItem))
        : el("p", {class: "muted", text: L.no_follow_ups}),
      el("h2", {text: L.notes}), noteForm,
      state.data.notes.length ? el("ul", {class: "items", id: "notes"}, state.data.notes.map(function (note) {
        return el("li", {class: "note"}, el("p", {class: "text", text: note.text}),
          el("small", {class: "muted", text: when(note.at) + " · " + note.author}));
      })) : el("p", {class: "muted", text: L.no_notes}));
  }

  function followUpItem(item) {
    var meta = item.done_at
      ? L.done + " " + when(item.done_at) + " · " + item.done_by
      : L.due + " " + when(item.due_at) + (item.created_by ? " · " + item.created_by : "");
    var li = el("li", {class: "follow-up" + (item.done_at ? " done" : "") + (item.overdue ? " overdue" : ""),
      "data-id": item.id},
      el("div", null, el("p", {class: "text", text: item.title}),
        el("small", {class: "muted", text: meta}),
        item.overdue ? el("small", {class: "badge", text: L.overdue}) : null));
    if (!item.done_at) {
      li.append(el("button", {type: "button", class: "done", text: L.mark_done, onclick: function (event) {
        busy(event.currentTarget, post(link("follow_up_done", item.id))).then(function (answer) {
          var list = state.data.follow_ups;
          list.splice(list.indexOf(item), 1, answer.follow_up);
          state.timelineStale = true;
          render();
        }).catch(function () {});
      }}));
    }
    return li;
  }

  // --- timeline -------------------------------------------------------------------------

  function describe(event) {
    var d = event.data || {};
    var by = d.by ? " · " + L.by + " " + d.by : "";
    if (event.kind === "tagged") {
      var parts = (d.added || []).map(function (id) { return "+" + (tagNames[id] || id); })
        .concat((d.removed || []).map(function (id) { return "−" + (tagNames[id] || id); }));
      return parts.join(" ") + by;
    }
    if (event.kind === "order" || event.kind === "order_refunded") {
      return ["¥" + d.amount, d.items, d.store, "#" + d.order_id].filter(Boolean).join(" · ");
    }
    if (event.kind === "custom") {
      var props = d.properties || {};
      return [d.type].concat(Object.keys(props).slice(0, 4).map(function (k) {
        var value = typeof props[k] === "object" ? JSON.stringify(props[k]) : String(props[k]);
        return k + ": " + value.slice(0, 80);
      })).join(" · ");
    }
    if (d.note) return d.note + by;
    if (d.follow_up) return L.follow_up_kind + ": " + d.follow_up + " (" + L.due + " " + d.due + ")" + by;
    if (d.follow_up_done) return L.follow_up_done_kind + ": " + d.follow_up_done + by;
    return Object.keys(d).filter(function (k) {
      return d[k] !== null && typeof d[k] !== "object" && String(d[k]) !== "";
    }).slice(0, 4).map(function (k) { return k + ": " + String(d[k]).slice(0, 80); }).join(" · ");
  }

  function eventItem(event) {
    return el("li", {class: "event " + event.kind},
      el("small", {class: "muted", text: when(event.at) + (event.guide ? " · " + event.guide : "")}),
      el("p", null, el("strong", {text: event.label}), " ", describe(event)));
  }

  function timeline(panel) {
    function draw() {
      var page = state.data.timeline;
      panel.replaceChildren(page.events.length
        ? el("ul", {class: "items", id: "timeline"}, page.events.map(eventItem))
        : el("p", {class: "muted", text: L.no_events}));
      if (page.next) {
        panel.append(el("button", {type: "button", class: "more", text: L.more, onclick: function (e) {
          busy(e.currentTarget, api(link("timeline") + "?before=" + encodeURIComponent(page.next)))
            .then(function (older) {
              page.events = page.events.concat(older.events);
              page.next = older.next;
              draw();
            }).catch(function () {});
        }}));
      }
    }
    if (state.timelineStale) {
      state.timelineStale = false;
      api(link("timeline")).then(function (fresh) { state.data.timeline = fresh; draw(); })
        .catch(function (error) { toast(error.message, true); });
    }
    draw();
  }

  // --- quick replies --------------------------------------------------------------------

  function replies(panel) {
    if (!state.replies) {
      api(U.quick_replies).then(function (answer) {
        state.replies = answer.folders;
        if (state.tab === "replies") render();
      }).catch(function (error) { toast(error.message, true); });
      panel.append(el("p", {class: "muted", text: "…"}));
      return;
    }
    var folders = state.replies.filter(function (f) { return f.replies.length; });
    if (!folders.length) { panel.append(el("p", {class: "muted", text: L.no_replies})); return; }
    folders.forEach(function (folder, index) {
      panel.append(el("details", {class: "folder", open: index === 0},
        el("summary", {text: folder.name + " (" + folder.replies.length + ")"}),
        el("ul", {class: "items"}, folder.replies.map(replyItem))));
    });
  }

  function replyItem(reply) {
    var preview = reply.kind === "text" ? reply.text
      : reply.kind === "link" ? L.link + " · " + (reply.description || reply.url) : L.image;
    return el("li", null, el("button", {type: "button", class: "reply", "data-id": reply.id,
      onclick: function (event) { send(event.currentTarget, reply); }},
      el("strong", {text: reply.title}), el("span", {class: "muted", text: preview}),
      el("span", {class: "send", text: L.send})));
  }

  function send(button, reply) {
    busy(button, post(link("quick_reply_message", reply.id))).then(function (answer) {
      wx.invoke("sendChatMessage", answer.message, function (res) {
        if (res.err_msg === "sendChatMessage:ok") {
          button.classList.add("sent");
          toast(L.sent);
        } else {
          toast(L.send_failed + " (" + (res.err_msg || "") + ")", true);
        }
      });
    }).catch(function () {});
  }

  start();
})();
