// Shared by every page: the colour theme (Auto / Light / Dark), remembered in localStorage.
// Loaded as a plain script in <head> so the stored theme applies before the first paint.

(() => {
  const KEY = 'picamd-theme';
  const MODES = ['auto', 'light', 'dark'];
  const LABELS = { auto: 'Auto', light: 'Light', dark: 'Dark' };
  const root = document.documentElement;

  function load() {
    try {
      const v = localStorage.getItem(KEY);
      return MODES.includes(v) ? v : 'auto';
    } catch (_) {
      return 'auto'; // storage disabled: the theme just is not remembered
    }
  }

  function save(mode) {
    try {
      if (mode === 'auto') localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, mode);
    } catch (_) { /* not remembered */ }
  }

  let mode = load();

  function apply() {
    if (mode === 'auto') delete root.dataset.theme;
    else root.dataset.theme = mode;
    for (const button of document.querySelectorAll('[data-theme-toggle]')) {
      button.textContent = `Theme: ${LABELS[mode]}`;
      button.title = 'Switch between the system theme, light and dark';
    }
  }

  apply();
  document.addEventListener('DOMContentLoaded', () => {
    apply();
    for (const button of document.querySelectorAll('[data-theme-toggle]')) {
      button.addEventListener('click', () => {
        mode = MODES[(MODES.indexOf(mode) + 1) % MODES.length];
        save(mode);
        apply();
      });
    }
  });
  // Another tab changed it.
  window.addEventListener('storage', (ev) => {
    if (ev.key === KEY || ev.key === null) {
      mode = load();
      apply();
    }
  });
})();
