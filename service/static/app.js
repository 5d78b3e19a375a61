// Progressive enhancement: the pages work without this file.
// - "/" focuses the search box from anywhere on the page.
// Filters change nothing until the form is submitted ("Áp dụng"): a select that re-ran the search
// on every change reloaded the page at each arrow key (WCAG 3.2.2).
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("q");
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (event.key === "/" && box && !typing) {
      event.preventDefault();
      box.focus();
      box.select();
    }
  });
});
