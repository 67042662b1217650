// The signed-out page (OpenID Connect Front-Channel Logout 1.0): once every relying
// party's logout frame has loaded, or after a timeout, continue to the post-logout
// redirect. Without JavaScript the "Tiếp tục" link does the same.
(function () {
  var link = document.getElementById("continue");
  if (!link) {
    return;
  }
  var done = false;
  function go() {
    if (!done) {
      done = true;
      window.location.replace(link.href);
    }
  }
  // The window's load event waits for every frame of the page.
  if (document.readyState === "complete") {
    go();
  } else {
    window.addEventListener("load", go);
  }
  window.setTimeout(go, parseInt(link.getAttribute("data-timeout-ms"), 10) || 4000);
})();
