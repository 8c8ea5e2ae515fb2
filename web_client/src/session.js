// Page start-up shared by the patient and physician apps: try the refresh cookie first, else show
// the login form; sign out; come back to the login form when the session cannot be renewed.

import { bindLoginForm, errorText, forgetSession, logout, onSessionLost, refreshSession, showLoginError } from "./auth.js";
import { initI18n, onLangChange, t } from "./i18n.js";
import { byTestId, show } from "./ui.js";

const BOOT_RETRY_MS = 3000;

/**
 * `requiredRole`: the only role this page serves. `wrongRoleKey`: message shown when another
 * account signs in. `enter(user)`: open the app (socket, handlers). `leave()`: close it (socket,
 * call, media) before the login form comes back.
 */
export function bootPage({ requiredRole, wrongRoleKey, enter, leave }) {
  initI18n();
  const loading = byTestId("loading");
  const loginSection = byTestId("login-section");
  const appSection = byTestId("app-section");
  const logoutButton = byTestId("logout");
  const userName = byTestId("user-name");
  let signedIn = false;
  let currentUser = null;

  const renderUser = () => {
    if (userName) userName.textContent = currentUser ? t("signed_in_as", { name: currentUser.first_name || currentUser.email || "" }) : "";
  };
  onLangChange(renderUser);

  function showLogin(message = "", code = "") {
    show(loading, false);
    show(appSection, false);
    show(logoutButton, false);
    show(loginSection, true);
    showLoginError(document, message, code);
  }

  function open(user) {
    signedIn = true;
    currentUser = user;
    renderUser();
    show(loading, false);
    show(loginSection, false);
    showLoginError(document, "");
    show(appSection, true);
    show(logoutButton, true);
    enter(user);
  }

  function close(message = "", code = "") {
    if (signedIn) leave();
    signedIn = false;
    currentUser = null;
    renderUser();
    showLogin(message, code);
  }

  const acceptUser = (user) => (user && user.role === requiredRole ? null : wrongRoleKey);

  bindLoginForm(document, { onLoggedIn: open, acceptUser });

  logoutButton.addEventListener("click", async () => {
    close();
    await logout();
  });

  onSessionLost(() => close(t("error.session_lost"), "session_lost"));

  async function tryRefresh() {
    if (signedIn) return;
    try {
      const user = await refreshSession();
      if (signedIn) return; // signed in by hand meanwhile
      if (user && !acceptUser(user)) {
        open(user);
      } else {
        if (user) forgetSession(); // another role's session: this page needs its own login
        showLogin();
      }
    } catch (err) {
      // Server away (restarting?): offer the form, and keep trying the cookie in the background.
      if (signedIn) return;
      showLogin(errorText(err), err && err.code);
      setTimeout(tryRefresh, BOOT_RETRY_MS);
    }
  }

  show(loading, true);
  show(loginSection, false);
  show(appSection, false);
  show(logoutButton, false);
  tryRefresh();

  return { signOut: close };
}
