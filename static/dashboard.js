// Publisher Analytics: small enhancements over pages that work without JavaScript.
// - "/" focuses the search box;
// - the table filters as you type, and sorting/paging/type links swap only the table
//   (the server renders the fragment: ?fragment=table), keeping the URL shareable; after a
//   swap the table's top is scrolled into view if it is off screen, focus stays on the control
//   used, and only the match count is announced;
// - charts show their value and date at once: on hover, on tap, and on keyboard focus
//   (Left/Right move between points, Home/End jump to the ends).
(function () {
  "use strict";

  // Instant tooltips over the server-drawn charts (their <title>s stay for no-JS).
  function chartTips(svg) {
    var hits = Array.prototype.slice.call(svg.querySelectorAll("g.hit"));
    if (!hits.length) return;
    var wrap = document.createElement("div");
    wrap.className = "chart-wrap";
    svg.parentNode.insertBefore(wrap, svg);
    wrap.appendChild(svg);
    var tip = document.createElement("div");
    tip.className = "chart-tip";
    tip.setAttribute("role", "status");
    tip.hidden = true;
    wrap.appendChild(tip);
    var index = -1;
    function show(i) {
      if (index >= 0 && hits[index]) hits[index].classList.remove("active");
      index = Math.max(0, Math.min(hits.length - 1, i));
      var hit = hits[index];
      hit.classList.add("active");
      var title = hit.querySelector("title");
      var text = title ? title.textContent : "";
      var cut = text.lastIndexOf(": ");
      tip.textContent = "";
      var value = document.createElement("strong");
      value.textContent = cut >= 0 ? text.slice(cut + 2) : text;
      tip.appendChild(value);
      tip.appendChild(document.createTextNode(cut >= 0 ? text.slice(0, cut) : ""));
      var box = hit.querySelector("line").getBoundingClientRect();
      var dot = hit.querySelector("circle");
      var outer = wrap.getBoundingClientRect();
      var y = dot ? dot.getBoundingClientRect().top : box.top + box.height / 3;
      tip.style.left = (box.left + box.width / 2 - outer.left) + "px";
      tip.style.top = (y - outer.top) + "px";
      tip.hidden = false;
      tip.setAttribute("data-date", hit.getAttribute("data-date"));
      tip.setAttribute("data-downloads", hit.getAttribute("data-downloads"));
    }
    function hide() {
      if (index >= 0 && hits[index]) hits[index].classList.remove("active");
      tip.hidden = true;
    }
    hits.forEach(function (hit, i) {
      hit.addEventListener("pointerenter", function () { show(i); });
      hit.addEventListener("click", function () { show(i); });
    });
    svg.addEventListener("pointerleave", function (e) {
      if (e.pointerType === "mouse" && document.activeElement !== svg) hide();
    });
    svg.addEventListener("focus", function () { show(index < 0 ? hits.length - 1 : index); });
    svg.addEventListener("blur", hide);
    svg.addEventListener("keydown", function (e) {
      var moves = { ArrowLeft: index - 1, ArrowRight: index + 1, Home: 0, End: hits.length - 1 };
      if (!(e.key in moves)) return;
      e.preventDefault();
      show(moves[e.key]);
    });
  }
  document.querySelectorAll("svg.chart").forEach(chartTips);

  // Sparklines: the point under the pointer (or finger), from the values the server put on
  // the sparkline; bucket dates follow from the first one and the granularity (UTC days).
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var sparkTip = null;
  function bucketDate(start, granularity, i) {
    var d = new Date(start + "T00:00:00Z");
    if (i === 0 || granularity === "day") {
      d.setUTCDate(d.getUTCDate() + i);
    } else if (granularity === "week") {
      var monday = d.getUTCDate() - ((d.getUTCDay() + 6) % 7);
      d.setUTCDate(monday + 7 * i);
    } else {
      d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + i, 1));
    }
    return d;
  }
  function sparkLabel(d, granularity) {
    var month = MONTHS[d.getUTCMonth()];
    if (granularity === "month") return month + " " + d.getUTCFullYear();
    var day = month + " " + d.getUTCDate() + ", " + d.getUTCFullYear();
    return granularity === "week" ? "week of " + day : day;
  }
  function showSpark(svg, clientX) {
    // An empty value is a bucket no data covers (before the first data, or after it stops).
    var raw = svg.getAttribute("data-values") || "";
    var values = raw ? raw.split(",") : [];
    if (!values.length) return;
    var box = svg.getBoundingClientRect();
    var x = (clientX - box.left) / box.width * 120;
    var i = values.length === 1 ? 0 : Math.round((x - 2) / 116 * (values.length - 1));
    i = Math.max(0, Math.min(values.length - 1, i));
    var granularity = svg.getAttribute("data-granularity");
    var date = bucketDate(svg.getAttribute("data-start"), granularity, i);
    if (!sparkTip) {
      sparkTip = document.createElement("div");
      sparkTip.className = "chart-tip floating";
      document.body.appendChild(sparkTip);
    }
    sparkTip.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = values[i] === "" ? "no data" :
      Number(values[i]).toLocaleString("en-US") + " downloads";
    sparkTip.appendChild(strong);
    sparkTip.appendChild(document.createTextNode(sparkLabel(date, granularity)));
    sparkTip.setAttribute("data-date", date.toISOString().slice(0, 10));
    sparkTip.setAttribute("data-downloads", values[i]);
    var px = box.left + (2 + 116 * (values.length === 1 ? 0.5 : i / (values.length - 1))) / 120 * box.width;
    sparkTip.style.left = (px + window.scrollX) + "px";
    sparkTip.style.top = (box.top + window.scrollY) + "px";
    sparkTip.hidden = false;
  }
  document.addEventListener("pointermove", function (e) {
    var svg = e.target.closest && e.target.closest("svg.spark");
    if (svg) showSpark(svg, e.clientX);
    else if (sparkTip && e.pointerType === "mouse") sparkTip.hidden = true;
  });
  document.addEventListener("pointerdown", function (e) {
    var svg = e.target.closest && e.target.closest("svg.spark");
    if (svg) showSpark(svg, e.clientX);
    else if (sparkTip) sparkTip.hidden = true;
  });
  var container = document.getElementById("repo-table");
  var form = document.querySelector("[data-testid=search-form]");
  var search = document.getElementById("q");

  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey || !search) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    e.preventDefault();
    search.focus();
    search.select();
  });


  if (!container || !form || !window.fetch || !window.history) return;

  var inflight = null;
  var timer = null;

  // The view's one URL, as the server writes it (ViewState::query): its parameters in this
  // order, empty values and defaults left out, so that a view reached by typing, by a sort
  // link or by a shared link has the same address.
  var ORDER = ["period", "from", "to", "q", "type", "sort", "order", "page", "per_page", "granularity"];
  // Percent-encodes all but RFC 3986's unreserved characters, as the server does.
  function encode(value) {
    return encodeURIComponent(value).replace(/[!'()*]/g, function (c) {
      return "%" + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }
  function canonical(url) {
    var parsed = new URL(url, window.location.href);
    var params = parsed.searchParams;
    var sort = (params.get("sort") || "").trim() || "downloads";
    var defaults = {
      period: "all-time", sort: "downloads", order: sort === "name" ? "asc" : "desc",
      page: "1", per_page: "50"
    };
    var custom = (params.get("period") || "").trim() === "custom";
    var pairs = [];
    ORDER.forEach(function (name) {
      var value = (params.get(name) || "").trim();
      if (!value || value === defaults[name]) return;
      if ((name === "from" || name === "to") && !custom) return;
      pairs.push(name + "=" + encode(value));
    });
    return parsed.pathname + (pairs.length ? "?" + pairs.join("&") : "");
  }

  function formUrl() {
    var params = new URLSearchParams(new FormData(form));
    return canonical(form.getAttribute("action") + "?" + params.toString());
  }

  var status = document.getElementById("table-status");
  var scope = document.querySelector("[data-testid=totals-scope]");
  var viewCsv = document.querySelector("[data-testid=csv-view-download]");

  // Keeps what lies outside the table in step with it: the view's CSV link, the note that the
  // cards are organization-wide, and the announcement of the match count.
  function syncAround(url) {
    var params = new URL(url, window.location.href).searchParams;
    if (viewCsv) {
      var keep = new URLSearchParams();
      ["period", "from", "to", "q", "type"].forEach(function (name) {
        if (params.get(name)) keep.set(name, params.get(name));
      });
      var query = keep.toString();
      viewCsv.setAttribute("href", viewCsv.getAttribute("href").split("?")[0] + (query ? "?" + query : ""));
    }
    if (scope) scope.hidden = !(params.get("q") || params.get("type"));
    var count = container.querySelector("[data-testid=repo-count]");
    if (status && count) status.textContent = count.textContent.replace(/\s+/g, " ").trim();
  }

  // Brings the table's top into view when a swap happened below or above the screen.
  function reveal() {
    var top = container.closest("section") || container;
    var box = top.getBoundingClientRect();
    if (box.top < 0 || box.top > window.innerHeight) top.scrollIntoView({ block: "start" });
  }

  // Keeps a form's hidden inputs `names` in step with the view `url`: one per parameter the
  // URL has (defaults are left out of it), placed before `before` (or at the end).
  function syncInputs(target, names, url, before) {
    var params = new URL(url, window.location.href).searchParams;
    names.forEach(function (name) {
      var input = target.querySelector("input[type=hidden][name=" + name + "]");
      var value = params.get(name);
      if (!value) {
        if (input) input.remove();
        return;
      }
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        var at = before && target.querySelector(before);
        if (at) target.insertBefore(input, at); else target.appendChild(input);
      }
      input.value = value;
    });
  }

  // Keeps the search form's hidden sort inputs in step with the table shown.
  function syncHidden(url) {
    syncInputs(form, ["sort", "order"], url, "label.per-page");
  }

  // Keeps the period links (and the custom-range form) carrying the current search and sort.
  function syncPeriodLinks(url) {
    var params = new URL(url, window.location.href).searchParams;
    params.delete("page");
    document.querySelectorAll("[data-testid=period-toggle] a[data-period]").forEach(function (a) {
      var p = new URLSearchParams(params);
      p.set("period", a.getAttribute("data-period"));
      a.setAttribute("href", canonical(form.getAttribute("action") + "?" + p.toString()));
    });
    var custom = document.querySelector("[data-testid=custom-range-form]");
    if (!custom) return;
    syncInputs(custom, ["q", "type", "sort", "order", "per_page"], url, "button[type=submit]");
  }

  // `focus` (optional) names the control to give the focus back to once the table is swapped:
  // a selector inside the new table (a sort header, a pager link), or an element outside it.
  function load(url, push, focus) {
    if (inflight) inflight.abort();
    inflight = new AbortController();
    var fragment = url + (url.indexOf("?") < 0 ? "?" : "&") + "fragment=table";
    container.classList.add("loading");
    fetch(fragment, { headers: { Accept: "text/html" }, credentials: "same-origin", signal: inflight.signal })
      .then(function (res) {
        // A redirect means the session ended (to sign-in): load the page itself instead.
        if (!res.ok || res.redirected) throw new Error("HTTP " + res.status);
        return res.text();
      })
      .then(function (html) {
        container.innerHTML = html;
        container.classList.remove("loading");
        // The server's own URL for the view it rendered (a page past the end is the last).
        var shown = container.querySelector("[data-url]");
        if (shown) url = shown.getAttribute("data-url");
        syncHidden(url);
        syncPeriodLinks(url);
        syncAround(url);
        if (push) history.pushState({ table: true }, "", url);
        else history.replaceState({ table: true }, "", url);
        if (typeof focus === "string") {
          reveal();
          var again = container.querySelector(focus) || container.querySelector("[data-testid=pagination] a");
          if (again) again.focus({ preventScroll: true });
        }
      })
      .catch(function (err) {
        if (err.name === "AbortError") return;
        container.classList.remove("loading");
        window.location.href = url; // fall back to a full page load
      });
  }

  search && search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { load(formUrl(), false); }, 180);
  });
  form.addEventListener("change", function (e) {
    if (!e.target) return;
    if (e.target.name === "type") load(formUrl(), false);
    if (e.target.name === "per_page") {
      var page = form.querySelector("input[type=hidden][name=page]");
      if (page) page.remove();
      load(formUrl(), false);
    }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    load(formUrl(), false);
  });
  container.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a[data-sort], .pager a");
    if (!link || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    var sort = link.getAttribute("data-sort");
    var testid = link.getAttribute("data-testid");
    var focus = sort ? "a[data-sort=" + sort + "]" :
      testid === "page-number" ? "[data-testid=page-number][aria-current]" :
      "[data-testid=" + testid + "]";
    load(canonical(link.getAttribute("href")), true, focus);
  });
  // The custom range leads to the view's one URL too (its hidden inputs may have been added
  // in another order after a table swap).
  var customForm = document.querySelector("[data-testid=custom-range-form]");
  customForm && customForm.addEventListener("submit", function (e) {
    if (!customForm.checkValidity()) return;
    e.preventDefault();
    var params = new URLSearchParams(new FormData(customForm));
    window.location.href = canonical(window.location.pathname + "?" + params.toString());
  });
  window.addEventListener("popstate", function () { window.location.reload(); });
})();
