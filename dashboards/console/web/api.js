// The audit APIs, called with the session cookie. A request that changes
// something carries the session's CSRF token; a 401 (the session ended)
// sends the browser to sign in again.

export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class API {
  constructor(csrf, signIn) {
    this.csrf = csrf;
    this.signIn = signIn;
  }

  // get returns the JSON answer of GET path?params.
  async get(path, params) {
    const q = params ? '?' + new URLSearchParams(params).toString() : '';
    return this.send('GET', path + (q === '?' ? '' : q));
  }

  // post sends body as JSON and returns the JSON answer.
  async post(path, body) {
    return this.send('POST', path, body);
  }

  async send(method, url, body) {
    const headers = { Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (method !== 'GET') {
      headers['X-CSRF-Token'] = this.csrf;
      if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
    }
    const resp = await fetch(url, init);
    if (resp.status === 401 && this.signIn) {
      this.signIn();
    }
    if (resp.status === 204) return null;
    let data = null;
    try {
      data = await resp.json();
    } catch (e) {
      throw new APIError(resp.status, 'bad_answer', `${method} ${url}: the answer is not JSON`);
    }
    if (!resp.ok) {
      const err = (data && data.error) || {};
      throw new APIError(resp.status, err.code || 'error', err.message || `${method} ${url}: ${resp.status}`);
    }
    return data;
  }
}
