// The job page: the status badge follows DynamoDB (polled); when the status changes, the workflow
// graph and timeline are fetched again (the only Step Functions read), and the archive countdown ticks.
(function () {
  "use strict";
  var root = document.getElementById("job");
  if (!root) return;
  var status = root.dataset.status;

  function tick() {
    var el = document.getElementById("countdown");
    if (!el) return;
    var left = Math.max(0, Math.round((Date.parse(el.getAttribute("datetime")) - Date.now()) / 1000));
    var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600),
        m = Math.floor(left % 3600 / 60), s = left % 60;
    el.textContent = (d ? d + " d " : "") + (d || h ? h + " h " : "") + (d || h || m ? m + " min " : "") + s + " s";
  }
  tick();
  setInterval(tick, 1000);

  function refreshWorkflow() {
    fetch(root.dataset.workflowUrl, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var section = document.getElementById("workflow");
        if (html && section) section.outerHTML = html;
      })
      .catch(function () {});
  }

  function apply(job) {
    var badge = document.querySelector("#job-status .badge");
    if (job.status !== status) {
      var first = status;
      status = job.status;
      root.dataset.status = status;
      badge.dataset.status = status;
      badge.className = "badge status-" + status.toLowerCase();
      badge.textContent = job.label;
      refreshWorkflow();
      // Links to results and the archive notes depend on the status; show them once it settles.
      if (first && ["COMPLETED", "ARCHIVED", "FAILED"].indexOf(status) >= 0) {
        var note = document.getElementById("status-changed");
        if (!note) {
          note = document.createElement("p");
          note.id = "status-changed";
          note.className = "flash";
          var link = document.createElement("a");
          link.href = window.location.pathname;
          link.textContent = "Show the results and files";
          note.appendChild(document.createTextNode("The job is now " + job.label + ". "));
          note.appendChild(link);
          root.insertBefore(note, root.children[1]);
        }
      }
    }
    var text = job.variants_total ? job.variants_done + " / " + job.variants_total + " variants"
      : (job.variants_done ? job.variants_done + " variants" : "—");
    document.getElementById("job-progress").textContent = text;
  }

  function poll() {
    if (document.hidden) return setTimeout(poll, 3000);
    fetch(root.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) { if (job) apply(job); })
      .catch(function () {})
      .then(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 3000);
})();
