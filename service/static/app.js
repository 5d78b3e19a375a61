// Progressive enhancement: the pages work without this file.
// - "/" focuses the search box from anywhere on the page.
// - The search box suggests as you type: an editable combobox with a list popup, as the WAI-ARIA
//   Authoring Practices describe it. The focus stays in the box; ArrowDown/ArrowUp move through
//   the list (aria-activedescendant), Enter chooses, Escape closes the list (then clears the box),
//   and a polite status says how many suggestions there are. Without JavaScript the box is a
//   plain search field.
// Filters change nothing until the form is submitted ("Áp dụng"): a select that re-ran the search
// on every change reloaded the page at each arrow key (WCAG 3.2.2).
const KIND_LABELS = { place: "địa danh", source: "nguồn", abbreviation: "viết tắt" };

function combobox(box) {
  const list = document.getElementById("q-list");
  const status = document.getElementById("q-status");
  const form = box.form;
  let items = [];
  let active = -1;
  let asked = 0;
  let timer = null;

  box.setAttribute("role", "combobox");
  box.setAttribute("aria-autocomplete", "list");
  box.setAttribute("aria-expanded", "false");
  box.setAttribute("aria-controls", list.id);

  function close() {
    list.hidden = true;
    box.setAttribute("aria-expanded", "false");
    box.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    active = index;
    list.querySelectorAll("[role=option]").forEach((option, i) => {
      option.setAttribute("aria-selected", i === index ? "true" : "false");
      if (i === index) {
        box.setAttribute("aria-activedescendant", option.id);
        option.scrollIntoView({ block: "nearest" });
      }
    });
    if (index < 0) box.removeAttribute("aria-activedescendant");
  }

  function show(found) {
    items = found;
    list.replaceChildren(...found.map((item, i) => {
      const option = document.createElement("li");
      option.id = `q-option-${i}`;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.textContent = item.kind === "place" || item.kind === "source" ? item.text : item.query;
      const label = KIND_LABELS[item.kind];
      if (label) {
        const kind = document.createElement("span");
        kind.className = "kind";
        kind.textContent = item.kind === "abbreviation" ? `(${item.abbreviation})` : `· ${label}`;
        option.append(kind);
      }
      option.addEventListener("mousedown", (event) => event.preventDefault()); // the box keeps the focus
      option.addEventListener("click", () => choose(i));
      return option;
    }));
    active = -1;
    box.removeAttribute("aria-activedescendant");
    if (found.length) {
      list.hidden = false;
      box.setAttribute("aria-expanded", "true");
      status.textContent = `${found.length} gợi ý: dùng mũi tên lên, xuống để chọn.`;
    } else {
      close();
      status.textContent = "";
    }
  }

  function choose(index) {
    const item = items[index];
    box.value = item.query;
    if (item.kind === "place") {
      const place = document.createElement("input");
      Object.assign(place, { type: "hidden", name: "place", value: item.place });
      form.append(place);
    } else if (item.kind === "source") {
      form.elements.source.value = item.source;
    }
    close();
    form.requestSubmit();
  }

  async function ask() {
    const typed = box.value;
    const mine = ++asked;
    if (!typed.trim()) {
      show([]);
      return;
    }
    try {
      const answer = await fetch(`${box.dataset.suggest}?${new URLSearchParams({ q: typed, limit: 8 })}`);
      const body = answer.ok ? await answer.json() : { suggestions: [] };
      if (mine === asked && box.value === typed) show(body.suggestions);
    } catch (error) {
      if (mine === asked) show([]); // offline or stopped: the box still searches on Enter
    }
  }

  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(ask, 80);
  });
  box.addEventListener("keydown", (event) => {
    const open = !list.hidden && items.length > 0;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!items.length) return;
      event.preventDefault();
      if (!open) {
        list.hidden = false;
        box.setAttribute("aria-expanded", "true");
      }
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlight(active < 0 && step < 0 ? items.length - 1 : (active + step + items.length) % items.length);
    } else if (event.key === "Enter" && open && active >= 0) {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape") {
      if (open) {
        event.preventDefault();
        close();
      } else if (box.value) {
        event.preventDefault();
        box.value = "";
        items = [];
      }
    } else if (event.key === "Tab") {
      close();
    }
  });
  box.addEventListener("blur", close);
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("q");
  if (box && box.dataset.suggest) combobox(box);
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (event.key === "/" && box && !typing) {
      event.preventDefault();
      box.focus();
      box.select();
    }
  });
});
