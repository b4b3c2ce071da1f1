/* Year-end report page: the 打印 button prints the page (the print stylesheet hides
   the navigation and the selectors). */
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-shequ-print]").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });
});
