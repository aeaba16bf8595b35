// newsarc serve: small conveniences only; every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Changing an outlet, sort or period menu runs the query again.
  for (const select of document.querySelectorAll("select.autosubmit")) {
    select.addEventListener("change", () => {
      if (select.form.elements.q.value.trim()) select.form.requestSubmit();
    });
  }
});

// "/" focuses the query box, as on many search sites.
document.addEventListener("keydown", (event) => {
  const box = document.getElementById("q");
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement?.tagName);
  if (event.key === "/" && box && !typing) {
    event.preventDefault();
    box.focus();
    box.select();
  }
});
