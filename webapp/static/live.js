// Keeps the status badges of the jobs list current by polling a small JSON endpoint that reads
// DynamoDB only. Polling pauses while the tab is hidden.
(function () {
  "use strict";
  var table = document.getElementById("jobs");
  if (!table) return;
  var url = table.dataset.statusUrl;
  var rows = {};
  table.querySelectorAll("tr[data-job-id]").forEach(function (row) { rows[row.dataset.jobId] = row; });
  var ids = Object.keys(rows);
  if (!ids.length) return;

  function progress(job) {
    if (job.variants_total) return job.variants_done + " / " + job.variants_total + " variants";
    return job.variants_done ? job.variants_done + " variants" : "";
  }

  function apply(jobs) {
    Object.keys(jobs).forEach(function (id) {
      var job = jobs[id], row = rows[id];
      if (!row) return;
      var badge = row.querySelector(".badge");
      if (badge.dataset.status !== job.status) {
        badge.dataset.status = job.status;
        badge.className = "badge status-" + job.status.toLowerCase();
        badge.textContent = job.label;
      }
      row.querySelector(".progress").textContent = progress(job);
    });
  }

  function poll() {
    if (document.hidden) return setTimeout(poll, 3000);
    fetch(url + "?ids=" + ids.join(","), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { jobs: {} }; })
      .then(function (data) { apply(data.jobs); })
      .catch(function () {})
      .then(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 3000);
})();
