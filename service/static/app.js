// Progressive enhancement: the pages work without this file.
// - changing a filter re-runs the search (when there is a query);
// - "/" focuses the search box from anywhere on the page.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.search");
  const box = document.getElementById("q");
  if (form && box) {
    form.querySelectorAll(".filters select, .filters input").forEach((field) => {
      field.addEventListener("change", () => {
        if (box.value.trim()) form.requestSubmit();
      });
    });
  }
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (event.key === "/" && box && !typing) {
      event.preventDefault();
      box.focus();
      box.select();
    }
  });
});
