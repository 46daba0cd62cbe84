// The portal's only script besides htmx. Loaded from a file: the Content Security Policy
// (script-src 'self') refuses inline scripts, inline event handlers and javascript: links.
document.addEventListener("click", (event) => {
  const back = event.target.closest("a[data-action=back]");
  if (back && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});
