// Sandbox chat page: sends what the user types or presses to the stand-in's
// JSON API and keeps the chat current from its Server-Sent Events stream.
// The server renders every message bubble; this script only places them.
(function () {
  "use strict";

  const $ = (sel) => document.querySelector(sel);
  const chat = $("#chat");
  const userId = chat && chat.dataset.userId;
  const toastEl = $("#toast");
  let toastTimer = 0;

  function toast(text, isError) {
    if (!toastEl) return;
    toastEl.textContent = text;
    toastEl.classList.toggle("error", !!isError);
    toastEl.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastEl.hidden = true; }, 4000);
  }

  async function post(url, body) {
    const resp = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.error || resp.statusText);
    return data;
  }

  const fail = (err) => toast(err.message || String(err), true);

  // Creating a user works with or without a chat open.
  const newUser = $("#new-user-form");
  if (newUser) {
    newUser.addEventListener("submit", (e) => {
      e.preventDefault();
      const form = new FormData(newUser);
      post("/sandbox/api/users", {
        name: String(form.get("name") || ""),
        language_code: String(form.get("language_code") || ""),
      }).then((u) => { window.location.href = "/?user=" + u.id; }, fail);
    });
  }

  if (!userId) return;
  const api = "/sandbox/api/chats/" + userId;
  const messages = $("#messages");
  const input = $("#message-input");
  const status = $("#chat-status");

  function scrollDown() { messages.scrollTop = messages.scrollHeight; lastTop = messages.scrollTop; }
  const nearBottom = () => messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;

  // A reader follows the chat until they scroll up, and follows it again
  // once they are back at its end. Only a move up can stop following: a
  // message that grows lowers the end without moving the view, and the
  // scroll event of our own jump to the end may arrive after that growth.
  let following = true;
  let lastTop = messages.scrollTop;
  messages.addEventListener("scroll", () => {
    if (messages.scrollTop < lastTop - 1) following = nearBottom();
    else if (nearBottom()) following = true;
    lastTop = messages.scrollTop;
  });
  // A photo grows its message when its size is known, which can be before
  // its load event: watch the sizes, not the loads.
  const grown = new ResizeObserver(() => { if (following) scrollDown(); });
  new MutationObserver((changes) => {
    for (const c of changes) c.addedNodes.forEach((n) => { if (n.nodeType === 1) grown.observe(n, { box: "border-box" }); });
  }).observe(messages, { childList: true });
  Array.from(messages.children).forEach((n) => grown.observe(n, { box: "border-box" }));

  function sendText(text) {
    text = text.trim();
    if (!text) return Promise.resolve();
    return post(api + "/messages", { text: text }).catch(fail);
  }

  $("#composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    input.value = "";
    sendText(text);
    input.focus();
  });

  $("#expire-button").addEventListener("click", () => sendText("/sandbox_expire 2m"));

  function setBlocked(blocked) {
    chat.dataset.blocked = String(blocked);
    $("#block-toggle").textContent = blocked ? "Unblock bot" : "Block bot";
    $("#blocked-bar").hidden = !blocked;
    $("#composer").hidden = blocked;
  }
  const toggleBlock = () => {
    const blocked = chat.dataset.blocked !== "true";
    post(api + "/block", { blocked: blocked }).then(() => setBlocked(blocked), fail);
  };
  $("#block-toggle").addEventListener("click", toggleBlock);
  $("#unblock-button").addEventListener("click", toggleBlock);

  document.addEventListener("click", (e) => {
    const target = e.target.closest("button, .cmd, .tg-spoiler");
    if (!target) return;
    const d = target.dataset;
    if (d.callbackData !== undefined) {
      target.classList.add("pending");
      post(api + "/callbacks", { message_id: Number(d.messageId), data: d.callbackData })
        .catch(fail)
        .finally(() => setTimeout(() => target.classList.remove("pending"), 400));
    } else if (d.testid === "pay-button") {
      const label = target.textContent;
      target.disabled = true;
      target.textContent = "Paying…";
      post(api + "/payments", { message_id: Number(d.messageId) })
        .then(() => toast("Payment sent"), (err) => {
          target.disabled = false;
          target.textContent = label;
          fail(err);
        });
    } else if (d.copyText !== undefined) {
      const done = () => toast("Copied to clipboard");
      if (navigator.clipboard) {
        navigator.clipboard.writeText(d.copyText).then(done, () => window.prompt("Copy:", d.copyText));
      } else {
        window.prompt("Copy:", d.copyText);
      }
    } else if (d.testid === "reply-button") {
      sendText(d.text);
    } else if (d.command) {
      sendText(d.command);
    } else if (target.classList.contains("tg-spoiler")) {
      target.classList.add("revealed");
    }
  });

  function upsert(m) {
    const old = document.getElementById("m-" + m.id);
    if (m.deleted) {
      if (old) old.remove();
      return;
    }
    const tpl = document.createElement("template");
    tpl.innerHTML = m.html.trim();
    const node = tpl.content.firstElementChild;
    if (!node) return;
    if (old) {
      // An edit may grow the message; the end of the chat stays in view.
      const follow = following || nearBottom();
      old.replaceWith(node);
      if (follow) scrollDown();
      return;
    }
    const atBottom = following || nearBottom();
    const later = Array.from(messages.children).find((el) => Number(el.dataset.messageId) > m.id);
    messages.insertBefore(node, later || null);
    if (atBottom || !m.from_bot) scrollDown();
  }

  function renderReplyKeyboard(rows) {
    const box = $("#reply-keyboard");
    box.replaceChildren();
    for (const row of rows || []) {
      const rowEl = document.createElement("div");
      rowEl.className = "kb-row";
      for (const text of row) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "kb-btn";
        b.dataset.testid = "reply-button";
        b.dataset.text = text;
        b.textContent = text;
        rowEl.appendChild(b);
      }
      box.appendChild(rowEl);
    }
  }

  let statusTimer = 0;
  const actionText = {
    typing: "typing…", upload_photo: "sending a photo…", upload_document: "sending a file…",
  };

  const events = new EventSource(api + "/events");
  events.addEventListener("upsert", (e) => {
    const m = JSON.parse(e.data);
    upsert(m);
    renderReplyKeyboard(m.reply_keyboard);
    if (m.from_bot) {
      clearTimeout(statusTimer);
      status.textContent = status.dataset.default;
    }
  });
  events.addEventListener("answer", (e) => {
    const a = JSON.parse(e.data);
    if (a.show_alert) window.alert(a.text);
    else toast(a.text);
  });
  events.addEventListener("action", (e) => {
    const a = JSON.parse(e.data);
    status.textContent = actionText[a.action] || a.action.replace(/_/g, " ") + "…";
    clearTimeout(statusTimer);
    statusTimer = setTimeout(() => { status.textContent = status.dataset.default; }, 5000);
  });
  events.addEventListener("state", (e) => setBlocked(JSON.parse(e.data).blocked));
  events.addEventListener("open", () => chat.classList.remove("offline"));
  events.addEventListener("error", () => chat.classList.add("offline"));

  scrollDown();
})();
