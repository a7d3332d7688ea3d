// Starts the wasm app. A file of its own (not an inline script) so the CSP can forbid inline code.
import init from './xai-app.js';

init().catch((error) => {
  const message = document.createElement('div');
  message.setAttribute('data-testid', 'error');
  message.setAttribute('role', 'alert');
  message.textContent = `xai-lens could not start in this browser: ${error}`;
  document.body.prepend(message);
});
