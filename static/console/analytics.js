/* The analytics dashboard: reads the filters, fetches the figures as JSON and draws them with the
   vendored Chart.js. Filters change the URL's query and reload the data, not the page. All text
   from the server goes in through textContent. */
(function () {
  "use strict";

  // A JSON answer's body; an error for an error answer, or for the login page a lapsed session gets.
  function jsonOf(response) {
    var type = response.headers.get("Content-Type") || "";
    if (type.indexOf("application/json") === -1) {
      throw new Error("Your session has ended: reload the page and sign in again.");
    }
    return response.json().then(function (body) {
      if (!response.ok) throw new Error(body.error || "The server answered " + response.status + ".");
      return body;
    });
  }

  var root = document.getElementById("analytics");
  if (!root) return;
  var form = document.getElementById("analytics-filters");
  var errorBox = root.querySelector('[data-testid="error"]');
  var emptyBox = root.querySelector('[data-testid="empty"]');
  var unansweredBox = root.querySelector('[data-testid="unanswered"]');
  var hotBox = root.querySelector('[data-testid="hot-topics"]');
  var hotForm = document.getElementById("hot-topics-refresh");
  var hotTimer = null;
  var hotDelay = 0;
  var sparklines = [];
  var timeZone = (Intl.DateTimeFormat().resolvedOptions() || {}).timeZone || "";
  var charts = {};
  var requests = {};
  var loads = 0;
  // A bad filter in the page's own URL: the server rendered the default range and says so; keep
  // that message on the first load, drop it once the operator picks new filters.
  var keepError = !errorBox.hidden;

  var COLORS = { accent: "#3b5bdb", answer: "#2b8a3e", clarify: "#f08c00", handoff: "#e8590c", muted: "#adb5bd" };
  var DECISIONS = { answer: "Answered", clarify: "Asked which entry", handoff: "Offered a person" };
  var CSAT_COLORS = ["#c92a2a", "#e8590c", "#fab005", "#82c91e", "#2b8a3e"];

  if (timeZone) root.querySelector("#analytics-tz").textContent = timeZone;
  if (typeof Chart === "undefined") {
    errorBox.textContent = "The chart library did not load (static/console/vendor/chart.umd.min.js).";
    errorBox.hidden = false;
    root.dataset.state = "error";
    return;
  }

  function filterParams() {
    var params = new URLSearchParams();
    ["site", "start", "end"].forEach(function (name) {
      var value = form.elements[name].value;
      if (value) params.set(name, value);
    });
    return params;
  }

  function fillForm(params) {
    // What the server assumes for a filter missing from the URL: all my sites, the last 30 days.
    var defaults = { site: "", start: root.dataset.defaultStart, end: root.dataset.defaultEnd };
    ["site", "start", "end"].forEach(function (name) {
      form.elements[name].value = params.get(name) || defaults[name];
    });
  }

  function getJSON(kind, url, params) {
    // A newer request of the same kind replaces an older one still in flight.
    if (requests[kind]) requests[kind].abort();
    var controller = new AbortController();
    requests[kind] = controller;
    var query = new URLSearchParams(params);
    if (timeZone) query.set("tz", timeZone);
    return fetch(url + "?" + query.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      signal: controller.signal,
    }).then(jsonOf);
  }

  function percent(value) {
    return (value * 100).toFixed(1) + " %";
  }

  function duration(seconds) {
    if (seconds < 120) return Math.round(seconds) + " s";
    if (seconds < 7200) return (seconds / 60).toFixed(1) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many);
  }

  function setStat(name, value, note) {
    root.querySelector('[data-stat="' + name + '"]').textContent = value;
    root.querySelector('[data-note="' + name + '"]').textContent = note;
  }

  function renderStats(m) {
    setStat("conversations", String(m.conversations), m.closed + " closed · " +
      plural(m.bot_replies, "bot reply", "bot replies"));
    var a = m.automation;
    setStat("automation", a.value === null ? "–" : percent(a.value), a.denominator
      ? a.numerator + " of " + plural(a.denominator, "closed conversation", "closed conversations") +
        " had no human (no handoff, no operator reply)"
      : "no closed conversation: closed without a human / all closed conversations");
    var h = m.handoff;
    setStat("handoff", h.value === null ? "–" : percent(h.value), h.denominator
      ? h.numerator + " of " + plural(h.denominator, "conversation", "conversations") + " handed to the team"
      : "no conversation: handed to the team / all conversations");
    var t = m.first_token_ms;
    setStat("first_token", t.value === null ? "–" : Math.round(t.value) + " ms", t.count
      ? "median over every bot reply (" + plural(t.count, "reply", "replies") + ")"
      : "no bot reply with a timing");
    var r = m.first_human_reply_s;
    setStat("first_human_reply", r.value === null ? "–" : duration(r.value), r.count
      ? "from handoff to the first operator message, over " + plural(r.count, "conversation", "conversations")
      : "no handed-off conversation answered by a person");
    var c = m.csat;
    setStat("csat", c.average === null ? "–" : c.average.toFixed(2) + " / 5", c.count
      ? plural(c.count, "rating", "ratings") + ", " + percent(c.positive.value) + " positive (4–5)"
      : "no rating");
  }

  function draw(id, hasData, config) {
    var canvas = document.getElementById(id);
    var box = canvas.parentElement;
    var empty = root.querySelector('[data-empty-for="' + id + '"]');
    box.hidden = !hasData;
    empty.hidden = hasData;
    if (!hasData) {
      // An empty range shows a sentence, not an empty axis.
      if (charts[id]) { charts[id].destroy(); delete charts[id]; }
      return;
    }
    var chart = charts[id];
    if (chart && chart.config.type === config.type) {
      chart.data.labels = config.data.labels;
      chart.data.datasets = config.data.datasets;
      chart.update();
      return;
    }
    if (chart) chart.destroy();
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: { duration: 250 } },
      config.options || {});
    charts[id] = new Chart(canvas, config);
  }

  function integerAxis() {
    return { beginAtZero: true, ticks: { precision: 0 } };
  }

  function renderCharts(m) {
    draw("chart-per-day", m.conversations > 0, {
      type: "bar",
      data: {
        labels: m.per_day.map(function (d) { return d.date; }),
        datasets: [{ label: "Conversations", data: m.per_day.map(function (d) { return d.conversations; }),
          backgroundColor: COLORS.accent }],
      },
      options: { plugins: { legend: { display: false } }, scales: { y: integerAxis() } },
    });
    var decided = m.decisions.reduce(function (sum, d) { return sum + d.count; }, 0);
    draw("chart-decisions", decided > 0, {
      type: "doughnut",
      data: {
        labels: m.decisions.map(function (d) { return DECISIONS[d.label] || d.label; }),
        datasets: [{ label: "Bot replies", data: m.decisions.map(function (d) { return d.count; }),
          backgroundColor: m.decisions.map(function (d) { return COLORS[d.label] || COLORS.muted; }) }],
      },
      options: { plugins: { legend: { position: "right" } } },
    });
    draw("chart-intents", m.top_intents.length > 0, {
      type: "bar",
      data: {
        labels: m.top_intents.map(function (d) { return d.label; }),
        datasets: [{ label: "Bot replies", data: m.top_intents.map(function (d) { return d.count; }),
          backgroundColor: COLORS.accent }],
      },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: integerAxis() } },
    });
    draw("chart-csat", m.csat.count > 0, {
      type: "bar",
      data: {
        labels: m.csat.distribution.map(function (d) { return String(d.score); }),
        datasets: [{ label: "Ratings", data: m.csat.distribution.map(function (d) { return d.count; }),
          backgroundColor: CSAT_COLORS }],
      },
      options: { plugins: { legend: { display: false } }, scales: { y: integerAxis() } },
    });
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function loadMetrics(params) {
    root.dataset.state = "loading";
    return getJSON("data", root.dataset.dataUrl, params).then(function (metrics) {
      if (!keepError) showError("");
      keepError = false;
      emptyBox.hidden = metrics.conversations > 0;
      renderStats(metrics);
      renderCharts(metrics);
      loads += 1;
      root.dataset.loads = String(loads);
      root.dataset.state = "ready";
    }, function (error) {
      if (error.name === "AbortError") return;
      showError(error.message);
      root.dataset.state = "error";
    });
  }

  function renderClusters(clusters) {
    var list = unansweredBox.querySelector(".clusters");
    var status = unansweredBox.querySelector(".unanswered-status");
    list.replaceChildren();
    status.textContent = clusters.length ? "" : "No unanswered questions in this range.";
    status.hidden = clusters.length > 0;
    clusters.forEach(function (cluster) {
      var item = document.createElement("li");
      item.dataset.testid = "cluster";
      var label = document.createElement("span");
      label.className = "cluster-label";
      label.textContent = cluster.label;
      var size = document.createElement("span");
      size.className = "cluster-size badge warn";
      size.textContent = plural(cluster.size, "question", "questions");
      var examples = document.createElement("ul");
      examples.className = "cluster-examples";
      cluster.questions.forEach(function (question) {
        var example = document.createElement("li");
        example.textContent = question;
        examples.appendChild(example);
      });
      item.append(label, size, examples);
      list.appendChild(item);
    });
  }

  function loadUnanswered(params) {
    unansweredBox.dataset.state = "loading";
    var status = unansweredBox.querySelector(".unanswered-status");
    status.hidden = false;
    status.textContent = "Loading… (grouping the questions by meaning can take a few seconds)";
    return getJSON("unanswered", root.dataset.unansweredUrl, params).then(function (body) {
      renderClusters(body.clusters);
      unansweredBox.dataset.state = "ready";
    }, function (error) {
      if (error.name === "AbortError") return;
      unansweredBox.querySelector(".clusters").replaceChildren();
      status.textContent = "Could not load the unanswered questions: " + error.message;
      unansweredBox.dataset.state = "error";
    });
  }

  var TRENDS = {
    new: { arrow: "\u2605", title: "not asked the days before" },
    rising: { arrow: "\u25B2", title: "asked more than the days before" },
    steady: { arrow: "\u2192", title: "about as often as the days before" },
    falling: { arrow: "\u25BC", title: "asked less than the days before" },
  };
  var DAY_MS = 24 * 3600 * 1000;

  function trendText(topic) {
    if (topic.change_percent === null) return TRENDS[topic.trend].arrow + " new";
    var sign = topic.change_percent > 0 ? "+" : topic.change_percent < 0 ? "\u2212" : "\u00B1";
    return TRENDS[topic.trend].arrow + " " + sign + Math.abs(topic.change_percent) + " %";
  }

  function sparkline(canvas, topic, body) {
    // One bar per 24 h, up to the moment the report was computed: the days before in grey, the
    // window's days in the accent colour.
    var until = new Date(body.until).getTime();
    var total = topic.daily.length;
    var labels = topic.daily.map(function (_, i) {
      var end = new Date(until - (total - i - 1) * DAY_MS);
      return "24 h to " + end.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    });
    var colors = topic.daily.map(function (_, i) { return i < body.days ? COLORS.muted : COLORS.accent; });
    sparklines.push(new Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: [{ label: "Questions", data: topic.daily, backgroundColor: colors,
        barPercentage: 1, categoryPercentage: 0.9 }] },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: false } },
        scales: { x: { display: false }, y: { display: false, beginAtZero: true } },
      },
    }));
  }

  function renderHotTopics(body) {
    var list = hotBox.querySelector(".topics");
    var status = hotBox.querySelector(".hot-topics-status");
    var button = hotForm.querySelector("button");
    sparklines.forEach(function (chart) { chart.destroy(); });
    sparklines = [];
    list.replaceChildren();
    button.disabled = body.refreshing || body.site_ids.length === 0;
    button.textContent = body.refreshing ? "Refreshing\u2026" : "Refresh";
    var parts = [];
    if (body.site_ids.length === 0) {
      parts.push("You have no site yet.");
    } else if (body.computed_at === null) {
      parts.push(body.refreshing
        ? "Computing the hot topics\u2026 (grouping the questions by meaning can take a minute)"
        : "Not computed yet. Press Refresh.");
    } else {
      var sampled = body.sampled < body.questions ? " (a sample of " + body.sampled + " grouped, counts scaled up)" : "";
      parts.push(plural(body.questions, "question", "questions") + sampled + " in the " + body.days +
        " days up to " + new Date(body.until).toLocaleString() + ".");
      if (body.topics.length === 0) parts.push("No question was asked twice about the same thing.");
      if (body.refreshing) parts.push("Refreshing\u2026");
    }
    if (body.failed) parts.push("The last computation failed: " + body.failed);
    status.textContent = parts.join(" ");
    status.classList.toggle("error", Boolean(body.failed));
    hotBox.dataset.computedAt = body.computed_at || "";
    body.topics.forEach(function (topic) {
      var item = document.createElement("li");
      item.dataset.testid = "topic";
      item.dataset.trend = topic.trend;
      var head = document.createElement("div");
      head.className = "topic-head";
      var label = document.createElement("span");
      label.className = "topic-label";
      label.textContent = topic.label || "(its example questions were erased)";
      var count = document.createElement("span");
      count.className = "badge topic-count";
      count.textContent = plural(topic.count, "question", "questions");
      var trend = document.createElement("span");
      trend.className = "topic-trend trend-" + topic.trend;
      trend.dataset.testid = "topic-trend";
      trend.textContent = trendText(topic);
      trend.title = TRENDS[topic.trend].title;
      head.append(label, count, trend);
      var previous = document.createElement("div");
      previous.className = "muted topic-previous";
      previous.textContent = topic.previous_count + " in the " + body.days + " days before";
      var examples = document.createElement("ul");
      examples.className = "topic-examples";
      topic.questions.slice(1).forEach(function (question) {
        var example = document.createElement("li");
        example.textContent = question;
        examples.appendChild(example);
      });
      var box = document.createElement("div");
      box.className = "sparkline";
      var canvas = document.createElement("canvas");
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", "Questions per day: " + topic.daily.join(", "));
      box.appendChild(canvas);
      var text = document.createElement("div");
      text.className = "topic-text";
      text.append(head, examples, previous);
      item.append(text, box);
      list.appendChild(item);
      sparkline(canvas, topic, body);
    });
  }

  function siteOnly(params) {
    // Hot topics cover a fixed window up to the last computation: only the site applies.
    var only = new URLSearchParams();
    if (params.get("site")) only.set("site", params.get("site"));
    return only;
  }

  function pollHotTopics(body, params) {
    clearTimeout(hotTimer);
    if (!body.refreshing) { hotDelay = 0; return; }
    // Ask again while a report is being computed, less often the longer it takes.
    hotDelay = Math.min(hotDelay ? hotDelay * 1.5 : 2000, 30000);
    hotTimer = setTimeout(function () { loadHotTopics(params, true); }, hotDelay);
  }

  function loadHotTopics(params, polling) {
    clearTimeout(hotTimer);
    if (!polling) hotDelay = 0;
    hotBox.dataset.state = "loading";
    hotForm.elements.site.value = params.get("site") || "";
    return getJSON("hot", hotBox.dataset.url, siteOnly(params)).then(function (body) {
      renderHotTopics(body);
      hotBox.dataset.state = body.refreshing ? "refreshing" : "ready";
      pollHotTopics(body, params);
    }, function (error) {
      if (error.name === "AbortError") return;
      hotBox.querySelector(".hot-topics-status").textContent = "Could not load the hot topics: " + error.message;
      hotBox.dataset.state = "error";
    });
  }

  function refreshHotTopics(event) {
    event.preventDefault();
    var params = filterParams();
    hotForm.elements.site.value = params.get("site") || "";
    hotForm.querySelector("button").disabled = true;
    fetch(hotForm.action, {
      method: "POST",
      body: new FormData(hotForm),
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": hotForm.elements.csrfmiddlewaretoken.value },
    }).then(jsonOf).then(function (body) {
      renderHotTopics(body);
      hotBox.dataset.state = body.refreshing ? "refreshing" : "ready";
      hotDelay = 0;
      pollHotTopics(body, params);
    }, function (error) {
      hotForm.querySelector("button").disabled = false;
      hotBox.querySelector(".hot-topics-status").textContent = "Could not refresh the hot topics: " + error.message;
      hotBox.dataset.state = "error";
    });
  }

  function load(params) {
    loadMetrics(params);
    loadHotTopics(params);
    loadUnanswered(params);
  }

  function apply(event) {
    event.preventDefault();
    var params = filterParams();
    var query = params.toString();
    if (query !== location.search.replace(/^\?/, "")) {
      history.pushState(null, "", location.pathname + (query ? "?" + query : ""));
    }
    load(params);
  }

  form.addEventListener("submit", apply);
  hotForm.addEventListener("submit", refreshHotTopics);
  // The site applies at once; dates apply with the button (or Enter), since a typed date changes
  // on every keystroke.
  form.elements.site.addEventListener("change", apply);
  window.addEventListener("popstate", function () {
    var params = new URLSearchParams(location.search);
    fillForm(params);
    load(filterParams());
  });

  load(filterParams());
})();
