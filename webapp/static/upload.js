// The upload page: every chosen file goes straight to S3 with a presigned POST of its own, sent
// from the page so each has a progress bar, and then becomes a job. Without this script the form
// posts the first file to S3, which redirects back to the dashboard to start its job.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest || !window.fetch) return;
  var input = document.getElementById("file");
  var error = document.getElementById("upload-error");
  var panel = document.getElementById("upload-progress");
  var rows = panel.querySelector("tbody");
  var done = document.getElementById("uploads-done");
  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  var allowed = form.dataset.allowed.split(",");
  var SIMULTANEOUS = 2; // uploads in flight at once; the rest wait their turn

  function refuse(message) {
    error.textContent = message;
    error.hidden = false;
  }

  // Why a file cannot be uploaded, or null (S3's policy and the dashboard check again).
  function problem(file) {
    var name = file.name.toLowerCase();
    if (!allowed.some(function (suffix) { return name.endsWith(suffix); })) {
      return file.name + " is not a VCF file: the name must end in " + allowed.join(", ") + ".";
    }
    if (file.size === 0) return file.name + " is empty.";
    if (file.size > maxBytes) {
      return file.name + " is " + Math.ceil(file.size / 1024) + " KB; your plan takes files up to " +
        Math.floor(maxBytes / 1024) + " KB. Upgrade to Premium for larger files.";
    }
    return null;
  }

  function row(file) {
    var tr = document.createElement("tr");
    tr.className = "upload";
    var name = document.createElement("td");
    name.className = "upload-name";
    name.textContent = file.name;
    var progressCell = document.createElement("td");
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    var state = document.createElement("span");
    state.className = "upload-state";
    state.textContent = "waiting";
    progressCell.appendChild(bar);
    progressCell.appendChild(state);
    var job = document.createElement("td");
    job.className = "upload-job";
    tr.appendChild(name);
    tr.appendChild(progressCell);
    tr.appendChild(job);
    rows.appendChild(tr);
    return {
      tr: tr,
      progress: function (percent, words) {
        bar.value = percent;
        state.textContent = words;
      },
      fail: function (message) {
        tr.className = "upload upload-failed";
        state.textContent = message;
      },
      job: function (started) {
        tr.className = "upload upload-submitted";
        tr.dataset.jobId = started.job_id;
        bar.value = 100;
        state.textContent = "uploaded; annotation started";
        var link = document.createElement("a");
        link.href = started.url;
        link.textContent = started.input_filename;
        job.appendChild(link);
      },
    };
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": form.dataset.csrfToken },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (!response.ok) throw new Error(answer.error || "The dashboard answered " + response.status + ".");
        return answer;
      });
    });
  }

  function sendToS3(post, file, shown) {
    return new Promise(function (resolve, reject) {
      var data = new FormData();
      // The policy allows exactly these fields (the key and the content type among them).
      Object.keys(post.fields).forEach(function (name) { data.append(name, post.fields[name]); });
      data.append("file", file); // S3 reads the fields before the file: it must come last
      var xhr = new XMLHttpRequest();
      xhr.open("POST", post.url);
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable) {
          var percent = Math.round((100 * event.loaded) / event.total);
          shown.progress(percent, percent + " %");
        }
      };
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else reject(new Error("The upload was refused (" + xhr.status + ")."));
      };
      xhr.onerror = function () { reject(new Error("The upload failed; check your connection.")); };
      xhr.send(data);
    });
  }

  // The file's name goes to the dashboard (asking for the POST, and with the job): it is kept on
  // the job, in any script, never as S3 metadata.
  function upload(file, shown) {
    shown.progress(0, "starting");
    return postJson(form.dataset.uploadsUrl, { filename: file.name })
      .then(function (post) {
        return sendToS3(post, file, shown).then(function () {
          shown.progress(100, "uploaded; starting the job");
          return postJson(form.dataset.jobsUrl, { key: post.key, filename: file.name });
        });
      })
      .then(shown.job, function (failure) { shown.fail(failure.message); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.hidden = true;
    var files = Array.prototype.slice.call(input.files || []);
    if (!files.length) return refuse("Choose one or more VCF files to upload.");
    panel.hidden = false;
    done.hidden = true;
    rows.textContent = "";
    var queue = [];
    files.forEach(function (file) {
      var shown = row(file);
      var why = problem(file);
      if (why) shown.fail(why);
      else queue.push({ file: file, shown: shown });
    });
    input.value = "";
    function next() {
      var item = queue.shift();
      return item ? upload(item.file, item.shown).then(next) : Promise.resolve();
    }
    var lanes = [];
    for (var i = 0; i < SIMULTANEOUS; i++) lanes.push(next());
    Promise.all(lanes).then(function () {
      // One file, as the form without this script does: straight to its job's page.
      var only = rows.querySelectorAll("tr.upload-submitted");
      if (files.length === 1 && only.length === 1) {
        window.location.assign(only[0].querySelector("a").href);
        return;
      }
      done.hidden = false;
    });
  });
})();
