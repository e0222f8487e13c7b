// campaign-bridge console: the little JavaScript it has (every page works without it).
// - [data-poll=URL]: fetch URL every second and swap it in; when the answer stops polling (the run ended),
//   reload the page so everything the run changed shows.
// - form[data-confirm=TEXT]: ask before sending.
"use strict";
(function () {
  function poll(el) {
    var url = el.getAttribute("data-poll");
    window.setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var box = document.createElement("div");
          box.innerHTML = html;
          var fresh = box.querySelector(".activity");
          if (!fresh) { return; }
          el.replaceWith(fresh);
          if (fresh.hasAttribute("data-poll")) { poll(fresh); } else { window.location.reload(); }
        })
        .catch(function () { poll(el); });
    }, 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  });
})();
