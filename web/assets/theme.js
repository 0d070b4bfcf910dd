// The colour theme of every page, light or dark: the one a person chose with
// the top bar's toggle (kept in localStorage as canopy-theme), else the
// system's (prefers-color-scheme, followed as it changes). A classic script
// loaded in <head> before the stylesheets, so the page is drawn in its theme
// from the first frame. Sets <html data-theme="light|dark">; canopy.css
// reads it, and pages redraw their charts on the window's 'canopy-theme'
// event. page.js draws the toggle and calls window.canopyTheme.set().
(function () {
  var KEY = 'canopy-theme';
  var media = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;

  function stored() {
    try {
      var t = localStorage.getItem(KEY);
      return t === 'dark' || t === 'light' ? t : null;
    } catch (e) {
      return null;  // storage refused (private mode, file://)
    }
  }

  function system() {
    return media && media.matches ? 'dark' : 'light';
  }

  function apply(theme) {
    var root = document.documentElement;
    if (root.getAttribute('data-theme') === theme) return;
    root.setAttribute('data-theme', theme);
    root.style.colorScheme = theme;
    try {
      window.dispatchEvent(new CustomEvent('canopy-theme', {detail: {theme: theme}}));
    } catch (e) { /* very old browsers: no redraw, the CSS still switches */ }
  }

  window.canopyTheme = {
    current: function () { return document.documentElement.getAttribute('data-theme') || 'light'; },
    chosen: stored,  // null: following the system
    set: function (theme) {
      try {
        if (theme === null) localStorage.removeItem(KEY);
        else localStorage.setItem(KEY, theme);
      } catch (e) { /* not remembered, still applied */ }
      apply(theme || system());
    },
  };

  apply(stored() || system());
  if (media) {
    var follow = function () { if (!stored()) apply(system()); };
    if (media.addEventListener) media.addEventListener('change', follow);
    else if (media.addListener) media.addListener(follow);
  }
})();
