// Passkeys (WebAuthn) on the account page and the enrolment page ("Thêm khóa truy cập"),
// the sign-in page ("Đăng nhập bằng khóa truy cập") and the factor page ("Dùng khóa truy
// cập"). Each ceremony: POST for options, then
// navigator.credentials.create()/get(), then POST the answer; the server checks it
// (idp.passkeys). Shown only where the browser has WebAuthn; the pages work without it.
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.error || "");
        return data;
      });
    });
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return {type: c.type, id: toBytes(c.id), transports: c.transports};
    });
  }

  function credentialJSON(credential) {
    var r = credential.response;
    var response = {clientDataJSON: toText(r.clientDataJSON)};
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) response.userHandle = toText(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults()
    };
  }

  function fail(box, root, error) {
    var cancelled = error && (error.name === "NotAllowedError" || error.name === "AbortError");
    box.textContent = cancelled ? root.dataset.msgCancelled : (error && error.message) || root.dataset.msgFailed;
    box.hidden = false;
    box.focus();
  }

  function enrol(form) {
    var box = document.getElementById("passkey-add-error");
    var button = form.querySelector("button");
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      box.hidden = true;
      button.disabled = true;
      var csrf = form.elements.csrf_token.value;
      post(form.dataset.optionsUrl, csrf).then(function (data) {
        var o = data.publicKey;
        o.challenge = toBytes(o.challenge);
        o.user.id = toBytes(o.user.id);
        o.excludeCredentials = descriptors(o.excludeCredentials);
        return navigator.credentials.create({publicKey: o});
      }).then(function (credential) {
        return post(form.dataset.url, csrf, {
          credential: credentialJSON(credential),
          name: form.elements.name.value
        });
      }).then(function (data) {
        window.location.assign(data.redirect);
      }).catch(function (error) {
        button.disabled = false;
        fail(box, form, error);
      });
    });
  }

  // Signing in with a passkey alone (the sign-in page), or with one as the second factor
  // (the factor page, whose block carries its own CSRF field and needs no next/remember).
  function useKey(root, box, button) {
    root.hidden = false;
    var unsupported = document.getElementById("passkey-factor-unsupported");
    if (unsupported) unsupported.hidden = true;
    button.addEventListener("click", function () {
      box.hidden = true;
      button.disabled = true;
      var field = root.querySelector("input[name=csrf_token]") ||
        document.querySelector("form input[name=csrf_token]");
      var csrf = field ? field.value : "";
      post(root.dataset.optionsUrl, csrf).then(function (data) {
        var o = data.publicKey;
        o.challenge = toBytes(o.challenge);
        o.allowCredentials = descriptors(o.allowCredentials);
        return navigator.credentials.get({publicKey: o});
      }).then(function (credential) {
        // "Duy trì đăng nhập trên thiết bị này" of the password form counts here too.
        var remember = document.querySelector("input[name=remember]");
        return post(root.dataset.url, csrf, {
          credential: credentialJSON(credential),
          next: root.dataset.next,
          remember: Boolean(remember && remember.checked)
        });
      }).then(function (data) {
        window.location.assign(data.redirect);
      }).catch(function (error) {
        button.disabled = false;
        fail(box, root, error);
      });
    });
  }

  // Passkeys are bound to the issuer's host name (the relying party id): on a page reached
  // by another name or address they could not work, so nothing is offered there.
  function onRelyingParty(element) {
    var rpId = element.dataset.rpId || "";
    var host = window.location.hostname;
    return host === rpId || host.slice(-(rpId.length + 1)) === "." + rpId;
  }

  if (!window.PublicKeyCredential || !navigator.credentials) return;
  var form = document.getElementById("passkey-add");
  if (form && onRelyingParty(form)) enrol(form);
  var root = document.getElementById("passkey-sign-in");
  if (root && onRelyingParty(root)) {
    useKey(root, document.getElementById("passkey-sign-in-error"),
      document.getElementById("passkey-sign-in-button"));
  }
  var factor = document.getElementById("passkey-factor");
  if (factor && onRelyingParty(factor)) {
    useKey(factor, document.getElementById("passkey-factor-error"),
      document.getElementById("passkey-factor-button"));
  }
})();
