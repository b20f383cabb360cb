/**
 * The page's JSON endpoints: POST with the CSRF token, same-origin credentials. Errors become a
 * RequestError carrying the server's message (and its problems, when it sends them).
 */

export class RequestError extends Error {
  constructor(message, { status = 0, data = null } = {}) {
    super(message);
    this.name = 'RequestError';
    this.status = status;
    this.data = data;
  }

  get problems() {
    return (this.data && Array.isArray(this.data.problems)) ? this.data.problems : null;
  }

  get isNetwork() {
    return this.status === 0;
  }
}

export async function postJson(url, body, csrfToken) {
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/json',
        'Accept': 'application/json',
        'X-CSRFToken': csrfToken || ''
      },
      body: JSON.stringify(body)
    });
  } catch (err) {
    throw new RequestError(err && err.message ? err.message : String(err));
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (!response.ok) {
    throw new RequestError(describe(data, response), { status: response.status, data });
  }
  return data || {};
}

function describe(data, response) {
  if (data && data.message) {
    const errors = Array.isArray(data.errors) ? data.errors : (data.errors ? Object.values(data.errors) : []);
    return errors.length ? `${data.message} (${errors.map(errorText).join('; ')})` : data.message;
  }
  return `HTTP ${response.status} ${response.statusText || ''}`.trim();
}

function errorText(error) {
  if (error && typeof error === 'object') {
    return [ error.field || error.name || error.element_id, error.message ].filter(Boolean).join(': ');
  }
  return String(error);
}
