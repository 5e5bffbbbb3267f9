// The live queue: the server says when the queue changed, and the list is fetched again and
// redrawn in place. A form being filled in is not redrawn under the member's hands: the redraw
// waits until focus leaves the list. When the session ends, the page reloads to the sign-in.
"use strict";
(function () {
  const queue = document.getElementById("queue");
  if (!queue || !window.EventSource) {
    return;
  }
  let stale = false;

  function busy() {
    return queue.contains(document.activeElement) && document.activeElement !== document.body;
  }

  async function redraw() {
    if (busy()) {
      stale = true;
      return;
    }
    stale = false;
    const answer = await fetch("/console/queue", { credentials: "same-origin", cache: "no-store" });
    if (answer.status === 401) {
      window.location.reload();
      return;
    }
    if (answer.ok) {
      queue.innerHTML = await answer.text();
      queue.dataset.updates = String(Number(queue.dataset.updates || "0") + 1);
    }
  }

  queue.addEventListener("focusout", function () {
    if (stale) {
      window.setTimeout(redraw, 0);
    }
  });
  const events = new EventSource("/console/events");
  let first = true;
  events.addEventListener("queue", function () {
    if (first) {
      first = false; // the page was drawn with this queue already
      return;
    }
    redraw();
  });
  events.addEventListener("signed-out", function () {
    events.close();
    window.location.reload();
  });
})();
