// Progressive enhancement only: every page works without this script.
// A form is submitted once: the button is disabled while the action is on its way, and each
// form carries an idempotency key, so a reload of the answer does not apply the action twice.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const key = form.querySelector("input[name=idempotency_key]");
  if (key && !key.value && window.crypto && crypto.randomUUID) key.value = crypto.randomUUID();
  for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = true;
});
