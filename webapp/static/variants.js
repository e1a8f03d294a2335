// Gene completion for the variant browser's filter: the datalist starts with the top genes
// (so it works without JavaScript); typing asks the server for the names that match.
(function () {
  const input = document.getElementById("filter-gene");
  const list = document.getElementById("gene-names");
  if (!input || !list) return;
  let timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) return;
    timer = setTimeout(async function () {
      const url = input.dataset.completeUrl + "?q=" + encodeURIComponent(q);
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      list.replaceChildren(...data.genes.map(function (name) {
        const option = document.createElement("option");
        option.value = name;
        return option;
      }));
    }, 150);
  });
})();

// The consequence filter's summary line names the ticked terms while the researcher picks them
// (the server draws it the same way on the next page, so it works without JavaScript too).
(function () {
  const box = document.getElementById("filter-consequence");
  const chosen = document.getElementById("consequence-chosen");
  if (!box || !chosen) return;
  box.addEventListener("change", function () {
    const ticked = Array.from(box.querySelectorAll("input[name=consequence]:checked"));
    chosen.textContent = ticked.length ? ticked.map(function (i) { return i.value; }).join(", ") : "any";
  });
})();
