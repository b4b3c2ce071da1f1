/* Person picker for the shequ entry forms: type part of a name (or the last digits of
   an ID number), pick the person from the list; the form submits their row id. */
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".person-picker").forEach((picker) => {
    const query = picker.querySelector("input[type=search]");
    const hidden = picker.querySelector("input[name=person_id]");
    const selected = picker.querySelector(".person-selected");
    const list = picker.querySelector(".person-results");
    let timer = null;
    const describe = (p) => `${p.name}（${p.id_number}，${p.community} ${p.household_no || ""}）`;
    query.addEventListener("input", () => {
      clearTimeout(timer);
      const q = query.value.trim();
      if (!q) { list.replaceChildren(); return; }
      timer = setTimeout(async () => {
        const response = await fetch(`${picker.dataset.searchUrl}?q=${encodeURIComponent(q)}`,
                                     {credentials: "same-origin"});
        const data = await response.json();
        list.replaceChildren(...data.rows.map((p) => {
          const item = document.createElement("li");
          const button = document.createElement("button");
          button.type = "button";
          button.className = "person-option";
          button.textContent = describe(p);
          button.addEventListener("click", () => {
            hidden.value = p.id;
            selected.textContent = "已选：" + describe(p);
            list.replaceChildren();
            query.value = "";
          });
          item.append(button);
          return item;
        }));
        if (!data.rows.length) {
          const item = document.createElement("li");
          item.textContent = "没有找到";
          list.append(item);
        }
      }, 150);
    });
  });
});
