// A page that answers a form (an error, "Add another", possible existing records) would stay in the
// browser's history as a POST: Back or Reload would then show "Confirm form resubmission". The server
// names the address the page stands for (data-history-url on <body>); putting it in the history in
// place of the POST makes Back and Reload fetch that page instead. Pages work without this script:
// a form sent again is then recognised by the server and has no second effect.
const address = document.body.dataset.historyUrl;
if (address && window.history.replaceState) {
  window.history.replaceState(window.history.state, "", address);
}
