// Publisher Analytics: small enhancements over pages that work without JavaScript.
// - "/" focuses the search box;
// - the table filters as you type, and sorting/paging/type links swap only the table
//   (the server renders the fragment: ?fragment=table), keeping the URL shareable;
// - on a phone, the period toggle scrolls to show the current period.
(function () {
  "use strict";
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

  // On a narrow screen the period toggle scrolls sideways: show the current period.
  var current = document.querySelector("[data-testid=period-toggle] .segmented a.current");
  if (current) {
    var bar = current.closest(".segmented");
    var overflow = current.getBoundingClientRect().right - bar.getBoundingClientRect().right;
    if (overflow > 0) bar.scrollLeft += overflow + 4;
  }

  if (!container || !form || !window.fetch || !window.history) return;

  var inflight = null;
  var timer = null;

  function formUrl() {
    var params = new URLSearchParams(new FormData(form));
    var clean = new URLSearchParams();
    params.forEach(function (value, key) {
      if (value !== "") clean.append(key, value);
    });
    var query = clean.toString();
    return form.getAttribute("action") + (query ? "?" + query : "");
  }

  // Keeps the search form's hidden sort inputs in step with the table shown.
  function syncHidden(url) {
    var params = new URL(url, window.location.href).searchParams;
    ["sort", "order"].forEach(function (name) {
      var input = form.querySelector("input[type=hidden][name=" + name + "]");
      if (input) input.value = params.get(name) || "";
    });
  }

  // Keeps the period links (and the custom-range form) carrying the current search and sort.
  function syncPeriodLinks(url) {
    var params = new URL(url, window.location.href).searchParams;
    params.delete("page");
    document.querySelectorAll("[data-testid=period-toggle] a[data-period]").forEach(function (a) {
      var p = new URLSearchParams(params);
      p.set("period", a.getAttribute("data-period"));
      p.delete("from");
      p.delete("to");
      a.setAttribute("href", form.getAttribute("action") + "?" + p.toString());
    });
    var custom = document.querySelector("[data-testid=custom-range-form]");
    if (!custom) return;
    ["q", "type", "sort", "order"].forEach(function (name) {
      var input = custom.querySelector("input[type=hidden][name=" + name + "]");
      var value = params.get(name);
      if (!value) {
        if (input) input.remove();
        return;
      }
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        custom.appendChild(input);
      }
      input.value = value;
    });
  }

  function load(url, push) {
    if (inflight) inflight.abort();
    inflight = new AbortController();
    var fragment = url + (url.indexOf("?") < 0 ? "?" : "&") + "fragment=table";
    container.classList.add("loading");
    fetch(fragment, { headers: { Accept: "text/html" }, credentials: "same-origin", signal: inflight.signal })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.text();
      })
      .then(function (html) {
        container.innerHTML = html;
        container.classList.remove("loading");
        syncHidden(url);
        syncPeriodLinks(url);
        if (push) history.pushState({ table: true }, "", url);
        else history.replaceState({ table: true }, "", url);
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
    if (e.target && e.target.name === "type") load(formUrl(), false);
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    load(formUrl(), false);
  });
  container.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a[data-sort], .pager a");
    if (!link || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    load(link.getAttribute("href"), true);
  });
  window.addEventListener("popstate", function () { window.location.reload(); });
})();
