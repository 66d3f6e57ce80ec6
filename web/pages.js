// The one script of the citizen pages: WebAuthn ceremonies and calls to the node.
// It is served from /static, so the Content-Security-Policy needs no inline script.
'use strict';

(function () {
  const body = document.body;
  const status = document.getElementById('status');
  const messages = document.getElementById('messages').dataset;
  const STORED_STATUS = 'idsvc-status';

  // Shows a catalogue message, such as "statusWorking", in the live region.
  function say(key, detail, isError) {
    status.textContent = (messages[key] || key) + (detail ? ' (' + detail + ')' : '');
    status.classList.toggle('error', Boolean(isError));
  }

  // Shows the message after a reload, which a success on this page asked for.
  function reloadWith(key) {
    sessionStorage.setItem(STORED_STATUS, key);
    window.location.reload();
  }

  function fromBase64url(text) {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = '';
    for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // Posts JSON and returns the parsed reply. A problem document becomes an Error with its code.
  async function post(path, payload) {
    const answer = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payload || {}),
      credentials: 'same-origin',
    });
    let doc = null;
    try {
      doc = await answer.json();
    } catch (ignored) {
      doc = null;
    }
    if (!answer.ok) {
      const error = new Error((doc && doc.detail) || answer.statusText);
      error.code = doc && doc.code;
      throw error;
    }
    return doc;
  }

  function descriptors(list) {
    return (list || []).map((item) => ({ type: item.type, id: fromBase64url(item.id) }));
  }

  // WebAuthn Level 3 JSON options to the objects navigator.credentials expects.
  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: fromBase64url(json.challenge),
      user: Object.assign({}, json.user, { id: fromBase64url(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: fromBase64url(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  function registrationJSON(credential) {
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        attestationObject: toBase64url(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : [],
      },
    };
  }

  function assertionJSON(credential) {
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : undefined,
      },
    };
  }

  // Runs one action of a button: busy state, the working message, errors by code.
  async function run(button, work) {
    if (!window.PublicKeyCredential) {
      say('statusUnsupported', null, true);
      return;
    }
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    say('statusWorking');
    try {
      await work();
    } catch (error) {
      if (error.name === 'NotAllowedError' || error.name === 'AbortError') {
        say('statusCancelled', null, true);
      } else {
        say('statusFailed', error.code || error.name, true);
      }
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }

  async function register() {
    const options = await post('/account/registration/options');
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    await post('/account/registration', { response: registrationJSON(credential) });
    reloadWith('statusEnrolled');
  }

  async function signIn() {
    const options = await post('/account/signin/options');
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
    await post('/account/signin', { response: assertionJSON(credential) });
    reloadWith('statusSignedIn');
  }

  async function removeKey(button) {
    await post('/account/authenticators/' + encodeURIComponent(button.dataset.id) + '/removal');
    reloadWith('statusRemoved');
  }

  async function approve(consentId) {
    const base = '/consent/' + encodeURIComponent(consentId);
    const options = await post(base + '/options');
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
    await post(base + '/approval', { response: assertionJSON(credential) });
    reloadWith('statusApproved');
  }

  async function refuse(consentId) {
    await post('/consent/' + encodeURIComponent(consentId) + '/refusal');
    reloadWith('statusRefused');
  }

  function on(id, handler) {
    const element = document.getElementById(id);
    if (element) element.addEventListener('click', () => run(element, handler));
  }

  function setUpEnroll() {
    const form = document.getElementById('enroll-form');
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const button = form.querySelector('button');
      run(button, async () => {
        await post('/enroll/code', { code: document.getElementById('code').value });
        window.location.assign('/account');
      });
    });
  }

  function setUpAccount() {
    on('register', register);
    on('signout', async () => {
      await post('/account/signout');
      window.location.reload();
    });
    document.querySelectorAll('button.remove').forEach((button) => {
      button.addEventListener('click', () => run(button, () => removeKey(button)));
    });
  }

  function setUpConsent() {
    const actions = document.querySelector('.actions');
    if (!actions) return;
    on('approve', () => approve(actions.dataset.consent));
    on('refuse', () => refuse(actions.dataset.consent));
  }

  const stored = sessionStorage.getItem(STORED_STATUS);
  if (stored) {
    sessionStorage.removeItem(STORED_STATUS);
    say(stored);
  }

  if (body.dataset.page === 'enroll') setUpEnroll();
  if (body.dataset.page === 'signin') on('signin', signIn);
  if (body.dataset.page === 'account') setUpAccount();
  if (body.dataset.page === 'consent') setUpConsent();
})();
