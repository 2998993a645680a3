/* The operator console's inbox and conversation view, over the console websocket
   (docs/console-protocol.md). Every text is rendered with textContent: never as HTML. */
(function () {
  "use strict";

  // The console's language (Django's JavaScript catalogue, /console/jsi18n/; English without it).
  var _ = window.gettext || function (text) { return text; };

  var config = document.getElementById("console-config");
  var HEARTBEAT_MS = Number(config.dataset.heartbeatS || 20) * 1000;
  var canned = JSON.parse(document.getElementById("canned-responses").textContent);
  var listEl = document.getElementById("conversation-list");
  var paneEl = document.getElementById("conversation");
  var connectionEl = document.getElementById("connection");
  var template = document.getElementById("conversation-template");

  var SEVERITIES = ["low", "medium", "high", "critical"];
  var LANGUAGES = { "zh-hans": "中文", ja: "日本語", ko: "한국어" };

  var state = {
    me: null,
    rows: new Map(), // conversation id -> inbox row
    tab: "waiting_human",
    open: null, // {id, lastSeq, status, els, pending: Map(client_id -> text), streams: Map(reply_to -> element)}
    socket: null,
    attempts: 0,
    handoffTimeout: 120,
  };

  // --- the socket, with jittered exponential back-off; the inbox is sent again on reconnect ---

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/console/");
    state.socket = socket;
    socket.onopen = function () {
      state.attempts = 0;
      setConnection(_("Live"), false);
    };
    socket.onmessage = function (event) {
      handle(JSON.parse(event.data));
    };
    socket.onclose = function (event) {
      if (event.code === 4403) {
        setConnection(_("Signed out: reload the page to sign in again."), true);
        return;
      }
      state.attempts += 1;
      var delay = Math.min(30000, 500 * Math.pow(2, state.attempts)) * (0.5 + Math.random() / 2);
      setConnection(_("Reconnecting…"), true);
      setTimeout(connect, delay);
    };
  }

  function send(frame) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function setConnection(text, offline) {
    connectionEl.textContent = text;
    connectionEl.classList.toggle("offline", offline);
  }

  setInterval(function () {
    send({ type: "heartbeat" });
  }, HEARTBEAT_MS);

  // --- frames from the server ---

  function handle(frame) {
    switch (frame.type) {
      case "hello":
        state.me = frame.operator;
        state.handoffTimeout = frame.handoff_timeout_s;
        break;
      case "inbox":
        state.rows = new Map();
        frame.conversations.forEach(function (row) {
          state.rows.set(row.id, row);
        });
        renderList();
        if (state.open) {
          // Back after a reconnect: fetch what was missed in the open conversation.
          send({ type: "open", conversation: state.open.id, after_seq: state.open.lastSeq });
          // Replies sent but never acknowledged go again with the same id: stored at most once.
          state.open.pending.forEach(function (text, clientId) {
            send({ type: "reply", conversation: state.open.id, client_id: clientId, text: text });
          });
        }
        break;
      case "conversation":
        upsertRow(frame.conversation);
        break;
      case "notify":
        notify(frame.conversation);
        break;
      case "conversation_view":
        showConversation(frame);
        break;
      case "message":
        if (state.open && frame.conversation === state.open.id) appendMessage(frame);
        break;
      case "message_update":
        if (state.open && frame.conversation === state.open.id) updateMessage(frame);
        break;
      case "token":
        if (state.open && frame.conversation === state.open.id) appendToken(frame);
        break;
      case "status":
        if (state.open && frame.conversation === state.open.id) {
          setOpenStatus(frame.status);
          var row = state.rows.get(state.open.id);
          if (row) {
            row.status = frame.status;
            renderHead(row);
          }
        }
        break;
      case "typing":
        if (state.open && frame.conversation === state.open.id) showTyping(frame.sender);
        break;
      case "note":
        if (state.open && frame.conversation === state.open.id) appendNote(frame);
        break;
      case "ack":
        if (state.open && state.open.pending) state.open.pending.delete(frame.client_id);
        break;
      case "claim_result":
        if (!frame.won) toast(frame.holder + " is already answering this conversation.");
        else if (state.open && state.open.id === frame.conversation) selectTab("mine");
        break;
      case "error":
        toast(frame.message);
        break;
    }
  }

  // --- the list ---

  function bucket(row) {
    if (row.status === "human") return row.assignee && state.me && row.assignee.id === state.me.id ? "mine" : "others";
    return row.status;
  }

  function upsertRow(row) {
    var known = state.rows.get(row.id);
    if (known && known.updated_at && row.updated_at && known.updated_at > row.updated_at) return; // stale
    state.rows.set(row.id, row);
    renderList();
    if (state.open && state.open.id === row.id) renderHead(row);
  }

  function renderList() {
    var counts = { waiting_human: 0, mine: 0, bot: 0, others: 0, closed: 0 };
    var rows = Array.from(state.rows.values());
    rows.forEach(function (row) {
      counts[bucket(row)] += 1;
    });
    Object.keys(counts).forEach(function (key) {
      document.querySelector('[data-count="' + key + '"]').textContent = String(counts[key]);
    });
    var shown = rows.filter(function (row) {
      return bucket(row) === state.tab;
    });
    shown.sort(function (a, b) {
      if (state.tab === "waiting_human") return (a.waiting_since || "").localeCompare(b.waiting_since || "");
      return (b.updated_at || "").localeCompare(a.updated_at || "");
    });
    listEl.replaceChildren();
    if (!shown.length) {
      var none = el("div", "connection", _("No conversations here."));
      listEl.appendChild(none);
    }
    shown.forEach(function (row) {
      var item = el("button", "conv-item");
      item.type = "button";
      item.dataset.conversation = String(row.id);
      item.setAttribute("aria-selected", String(!!state.open && state.open.id === row.id));
      var top = el("div", "top");
      top.appendChild(el("strong", "", row.site.name + " · #" + row.id));
      var badges = el("span");
      // The customer's language, when it is not English: the operator answers in it.
      if (row.language && row.language !== "en") {
        var language = el("span", "badge", LANGUAGES[row.language] || row.language);
        language.title = _("The customer writes in this language");
        language.dataset.testid = "conversation-language";
        badges.appendChild(language);
      }
      if (row.sentiment_label) badges.appendChild(el("span", "badge " + row.sentiment_label, row.sentiment_label));
      if (row.open_contacts) badges.appendChild(el("span", "badge warn", _("left e-mail")));
      if (row.escalation) {
        var flag = el("span", "badge negative", _("upset"));
        flag.title = row.escalation;
        badges.appendChild(flag);
      }
      var complaint = complaintBadge(row.complaint_category, row.complaint_severity);
      if (complaint) badges.appendChild(complaint);
      top.appendChild(badges);
      item.appendChild(top);
      if (row.last_message) item.appendChild(el("div", "last", senderName(row.last_message.sender) + ": " + row.last_message.text));
      if (row.status === "waiting_human" && row.waiting_since) {
        var wait = el("div", "wait");
        wait.dataset.since = row.waiting_since;
        item.appendChild(wait);
      }
      if (row.assignee) item.appendChild(el("div", "muted", _("with ") + row.assignee.name));
      item.addEventListener("click", function () {
        openConversation(row.id);
      });
      listEl.appendChild(item);
    });
    tickWaits();
  }

  function tickWaits() {
    document.querySelectorAll(".wait[data-since]").forEach(function (node) {
      var seconds = Math.max(0, Math.round((Date.now() - Date.parse(node.dataset.since)) / 1000));
      var text = "waiting " + duration(seconds);
      if (seconds >= state.handoffTimeout) text += " (offered to leave a message)";
      node.textContent = text;
    });
  }
  setInterval(tickWaits, 1000);

  function selectTab(tab) {
    state.tab = tab;
    document.querySelectorAll("[data-tab]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.tab === tab));
    });
    renderList();
  }

  document.querySelectorAll("[data-tab]").forEach(function (button) {
    button.addEventListener("click", function () {
      selectTab(button.dataset.tab);
    });
  });

  // --- the open conversation ---

  function openConversation(id) {
    if (!state.open || state.open.id !== id) {
      var node = template.content.cloneNode(true);
      var els = {};
      node.querySelectorAll("[data-ref]").forEach(function (n) {
        els[n.dataset.ref] = n;
      });
      paneEl.replaceChildren(node);
      state.open = { id: id, lastSeq: 0, els: els, pending: new Map(), streams: new Map() };
      wireConversation(els);
    }
    send({ type: "open", conversation: id, after_seq: state.open.lastSeq });
    renderList();
  }

  function showConversation(view) {
    if (!state.open || state.open.id !== view.conversation.id) return;
    upsertRow(view.conversation);
    renderHead(view.conversation);
    view.messages.forEach(appendMessage);
    var shownNotes = state.open.els.transcript.querySelectorAll("[data-note]");
    var known = new Set(Array.from(shownNotes).map(function (n) { return n.dataset.note; }));
    view.notes.forEach(function (note) {
      if (!known.has(String(note.id))) appendNote(note);
    });
    var old = state.open.els.transcript.querySelector(".contacts");
    if (old) old.remove();
    if (view.contacts.length) {
      var box = el("div", "contacts");
      view.contacts.forEach(function (contact) {
        var c = el("div", "contact");
        c.appendChild(el("strong", "", _("Left an e-mail: ") + contact.email));
        c.appendChild(el("div", "", contact.text));
        if (!contact.handled_at) {
          var done = el("button", "link", _("Mark as answered"));
          done.type = "button";
          done.addEventListener("click", function () {
            send({ type: "contact_handled", contact: contact.id });
            done.remove();
          });
          c.appendChild(done);
        } else {
          c.appendChild(el("div", "muted", "answered"));
        }
        box.appendChild(c);
      });
      state.open.els.transcript.prepend(box);
    }
  }

  function renderHead(row) {
    var els = state.open.els;
    setOpenStatus(row.status);
    els.title.textContent = row.site.name + " · conversation #" + row.id + " · visitor " + row.visitor;
    els.status.textContent = statusText(row.status);
    els.status.className = "badge " + row.status;
    els.assignee.textContent = row.assignee ? "with " + row.assignee.name : "";
    var complaint = complaintBadge(row.complaint_category, row.complaint_severity);
    els.complaint.replaceChildren();
    if (complaint) els.complaint.appendChild(complaint);
    var mine = row.status === "human" && row.assignee && state.me && row.assignee.id === state.me.id;
    var closed = row.status === "closed";
    setVisible("claim", !closed && !row.assignee);
    setVisible("release", !!mine);
    setVisible("close", !closed);
    var replyMode = modeOf(els.composer) === "reply";
    els.hint.textContent = closed ? _("Closed.") : mine || !replyMode ? "" : _("Take over to reply; notes are always possible.");
    els.composer.querySelector('button[type="submit"]').disabled = closed || (replyMode && !mine);
  }

  function setVisible(action, visible) {
    var button = paneEl.querySelector('[data-action="' + action + '"]');
    if (button) button.hidden = !visible;
  }

  function appendMessage(message) {
    var open = state.open;
    if (message.seq <= open.lastSeq) return;
    open.lastSeq = message.seq;
    if (message.reply_to != null && open.streams.has(message.reply_to)) {
      open.streams.get(message.reply_to).remove();
      open.streams.delete(message.reply_to);
    }
    var bubble = el("div", "msg " + message.sender);
    bubble.dataset.seq = String(message.seq);
    bubble.appendChild(document.createTextNode(message.text));
    var metaEl = el("div", "meta", messageMeta(message));
    metaEl.dataset.role = "meta";
    bubble.appendChild(metaEl);
    if (message.sender === "customer") bubble.appendChild(sentimentCorrector(message));
    if (message.sender === "bot" && message.sources && message.sources.length) {
      var sources = el("div", "meta", _("Sources: ") + message.sources.map(function (s) {
        return s.question + (s.score != null ? " (" + Number(s.score).toFixed(2) + ")" : "");
      }).join("; "));
      bubble.appendChild(sources);
    }
    if (message.sender === "bot" && message.options && message.options.length) {
      bubble.appendChild(el("div", "meta", _("Offered: ") + message.options.map(function (o) { return o.question; }).join(" / ")));
    }
    open.els.transcript.appendChild(bubble);
    scrollDown();
    showTyping(null);
  }

  // A message already shown changed: its sentiment, complaint, correction or the customer's feedback.
  function updateMessage(message) {
    var bubble = state.open.els.transcript.querySelector('.msg[data-seq="' + Number(message.seq) + '"]');
    if (!bubble) return;
    var metaEl = bubble.querySelector('[data-role="meta"]');
    if (metaEl) metaEl.textContent = messageMeta(message);
    var select = bubble.querySelector("select[data-role=correct]");
    if (select) select.value = message.sentiment_corrected || "";
  }

  function messageMeta(message) {
    var meta = [];
    if (message.sender === "operator" && message.author) meta.push(message.author);
    if (message.sender === "bot") {
      if (message.decision) meta.push(message.decision + (message.decision_reason ? ": " + message.decision_reason : ""));
      if (message.intent) meta.push("intent " + message.intent);
      if (message.confidence != null) meta.push("confidence " + Number(message.confidence).toFixed(2));
      if (message.timings && message.timings.first_token != null) meta.push("first token " + Math.round(message.timings.first_token) + " ms");
      if (message.model_version) meta.push(message.model_version);
      if (message.feedback) meta.push("customer: " + (message.feedback === "up" ? "👍" : "👎"));
    }
    if (message.sender === "customer" && message.sentiment_label) meta.push("sentiment " + message.sentiment_label);
    if (message.sender === "customer" && message.complaint_category) {
      meta.push(complaintText(message.complaint_category, message.complaint_severity));
    }
    meta.push(new Date(message.created_at).toLocaleTimeString());
    return meta.join(" · ");
  }

  // "Label as": an operator's sentiment label for a customer message, for the next sentiment
  // model (the Learning page's retraining uses it).
  function sentimentCorrector(message) {
    var label = el("label", "meta correct", _("Label as "));
    var select = document.createElement("select");
    select.dataset.role = "correct";
    [["", "—"], ["negative", "negative"], ["neutral", "neutral"], ["positive", "positive"]].forEach(function (o) {
      var option = document.createElement("option");
      option.value = o[0];
      option.textContent = o[1];
      select.appendChild(option);
    });
    select.value = message.sentiment_corrected || "";
    var conversation = state.open.id;
    select.addEventListener("change", function () {
      if (!select.value) return;
      var url = config.dataset.sentimentUrl
        .replace("111111111", String(conversation))
        .replace("222222222", String(message.seq));
      var body = new URLSearchParams({ label: select.value });
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": config.querySelector("input[name=csrfmiddlewaretoken]").value },
        body: body,
      }).then(function (response) {
        if (!response.ok) return response.json().then(function (r) { toast(r.error || _("Could not save the label.")); });
        toast(_("Labelled ") + select.value + _(": the next sentiment training uses it."));
      }).catch(function () { toast(_("Could not save the label.")); });
    });
    label.appendChild(select);
    return label;
  }

  // The bot no longer answers (taken over, waiting for a person, closed): a reply still streaming
  // will not be completed, and its text must not show, nor any piece of it that arrives late.
  function setOpenStatus(status) {
    state.open.status = status;
    if (status === "bot") return;
    state.open.streams.forEach(function (bubble) { bubble.remove(); });
    state.open.streams.clear();
  }

  function appendToken(frame) {
    var open = state.open;
    if (open.status && open.status !== "bot") return;
    var bubble = open.streams.get(frame.reply_to);
    if (!bubble) {
      bubble = el("div", "msg bot streaming");
      bubble.dataset.attempt = String(frame.attempt);
      open.streams.set(frame.reply_to, bubble);
      open.els.transcript.appendChild(bubble);
    }
    // a worker died mid-reply and another one generates it again from the start
    if (bubble.dataset.attempt !== String(frame.attempt)) {
      bubble.dataset.attempt = String(frame.attempt);
      bubble.textContent = "";
    }
    bubble.textContent += frame.delta;
    scrollDown();
  }

  function appendNote(note) {
    var box = el("div", "msg note");
    box.dataset.note = String(note.id);
    box.appendChild(document.createTextNode(note.text));
    box.appendChild(el("div", "meta", _("Internal note by ") + note.author + " · " + new Date(note.created_at).toLocaleTimeString()));
    state.open.els.transcript.appendChild(box);
    scrollDown();
  }

  var typingTimer = null;
  function showTyping(sender) {
    var node = state.open.els.typing;
    node.textContent = sender ? senderName(sender) + " is typing…" : "";
    clearTimeout(typingTimer);
    if (sender) typingTimer = setTimeout(function () { node.textContent = ""; }, 4000);
  }

  function scrollDown() {
    var t = state.open.els.transcript;
    t.scrollTop = t.scrollHeight;
  }

  function wireConversation(els) {
    paneEl.querySelectorAll("[data-action]").forEach(function (button) {
      button.addEventListener("click", function () {
        var action = button.dataset.action;
        if (action === "close" && !window.confirm(_("Close this conversation?"))) return;
        send({ type: action, conversation: state.open.id });
      });
    });
    var textarea = els.composer.querySelector("textarea");
    var lastTyping = 0;
    textarea.addEventListener("input", function () {
      if (modeOf(els.composer) === "reply" && Date.now() - lastTyping > 2000) {
        lastTyping = Date.now();
        send({ type: "typing", conversation: state.open.id });
      }
      renderCanned(els, textarea);
    });
    textarea.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        els.composer.requestSubmit();
      }
    });
    els.composer.addEventListener("change", function () {
      els.composer.classList.toggle("note-mode", modeOf(els.composer) === "note");
      var row = state.rows.get(state.open.id);
      if (row) renderHead(row);
    });
    els.composer.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = textarea.value.trim();
      if (!text) return;
      var expanded = expandCanned(text);
      if (modeOf(els.composer) === "note") {
        send({ type: "note", conversation: state.open.id, text: expanded });
      } else {
        var clientId = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/[^A-Za-z0-9_-]/g, "");
        state.open.pending.set(clientId, expanded);
        send({ type: "reply", conversation: state.open.id, client_id: clientId, text: expanded });
      }
      textarea.value = "";
      renderCanned(els, textarea);
    });
    renderCanned(els, textarea);
  }

  function cannedFor(siteId) {
    return canned.filter(function (c) { return c.site === null || c.site === siteId; });
  }

  function expandCanned(text) {
    var match = /^\/([\w-]+)$/.exec(text);
    if (!match || !state.open) return text;
    var row = state.rows.get(state.open.id);
    var found = cannedFor(row ? row.site.id : null).find(function (c) { return c.shortcut === match[1]; });
    return found ? found.text : text;
  }

  function renderCanned(els, textarea) {
    var row = state.rows.get(state.open.id);
    var query = textarea.value.startsWith("/") ? textarea.value.slice(1).toLowerCase() : null;
    els.canned.replaceChildren();
    cannedFor(row ? row.site.id : null)
      .filter(function (c) { return query === null || c.shortcut.indexOf(query) === 0; })
      .forEach(function (c) {
        var b = el("button", "", "/" + c.shortcut);
        b.type = "button";
        b.title = c.text;
        b.addEventListener("click", function () {
          textarea.value = c.text;
          textarea.focus();
          renderCanned(els, textarea);
        });
        els.canned.appendChild(b);
      });
  }

  // --- notifications ---

  function notify(row) {
    var text = "A customer on " + row.site.name + " is waiting for a person (#" + row.id + ").";
    toast(text);
    if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
      new Notification(_("Customer waiting"), { body: text });
    }
  }

  if ("Notification" in window && Notification.permission === "default") {
    document.addEventListener("click", function ask() {
      Notification.requestPermission();
      document.removeEventListener("click", ask);
    });
  }

  var toastTimer = null;
  function toast(text) {
    var node = document.querySelector(".toast") || document.body.appendChild(el("div", "toast"));
    node.setAttribute("role", "status");
    node.textContent = text;
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { node.hidden = true; }, 6000);
  }

  // --- helpers ---

  function complaintText(category, severity) {
    return "complaint: " + category.replace(/_/g, " ") + (severity ? " · " + severity : "");
  }

  // "complaint: delivery · high", or null without a complaint. The severity picks the badge's
  // class only when it is a known one, so no server value ever becomes a class name of its own.
  function complaintBadge(category, severity) {
    if (!category) return null;
    var level = SEVERITIES.indexOf(severity) >= 0 ? severity : "low";
    var badge = el("span", "badge complaint severity-" + level, complaintText(category, severity));
    badge.dataset.testid = "complaint";
    return badge;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function modeOf(form) {
    return form.querySelector('input[name="mode"]:checked').value;
  }

  function senderName(sender) {
    return { customer: _("Customer"), bot: _("Bot"), operator: _("Operator"), system: _("System") }[sender] || sender;
  }

  function statusText(status) {
    return { bot: _("bot answering"), waiting_human: _("waiting for a person"), human: _("with a person"), closed: _("closed") }[status] || status;
  }

  function duration(seconds) {
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
    return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
  }

  connect();
})();
