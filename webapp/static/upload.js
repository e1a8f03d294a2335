// Checks the file before it goes to S3 (whose policy enforces the size limit anyway), and names
// the upload: the key's suffix says whether it is compressed, the metadata keeps the file name.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var input = document.getElementById("file");
  var error = document.getElementById("upload-error");
  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  var allowed = form.dataset.allowed.split(",");

  function refuse(message) {
    error.textContent = message;
    error.hidden = false;
  }

  form.addEventListener("submit", function (event) {
    error.hidden = true;
    var file = input.files && input.files[0];
    if (!file) { event.preventDefault(); return refuse("Choose a VCF file to upload."); }
    var name = file.name.toLowerCase();
    if (!allowed.some(function (suffix) { return name.endsWith(suffix); })) {
      event.preventDefault();
      return refuse(file.name + " is not a VCF file: the name must end in " + allowed.join(", ") + ".");
    }
    if (file.size === 0) { event.preventDefault(); return refuse(file.name + " is empty."); }
    if (file.size > maxBytes) {
      event.preventDefault();
      return refuse(file.name + " is " + Math.ceil(file.size / 1024) + " KB; your plan takes files up to " +
        Math.floor(maxBytes / 1024) + " KB. Upgrade to Premium for larger files.");
    }
    var compressed = name.endsWith(".gz") || name.endsWith(".bgz");
    form.elements["key"].value = form.dataset.keyPrefix + (compressed ? ".vcf.gz" : ".vcf");
    form.elements["x-amz-meta-filename"].value = file.name.slice(0, 200);
  });
})();
