// The admin API, called with the key the operator signed in with. The key lives in
// sessionStorage only (this tab, until it closes) and goes out as the X-API-Key header:
// never in a URL, a cookie or a log line.

const KEY = 'callgate.adminKey';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  set: (key) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

/// An answer outside 2xx: `status`, the API's JSON body, and its `error` as the message.
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

function headers(extra, key) {
  const out = { Accept: 'application/json', ...extra };
  const k = key ?? session.key();
  if (k) out['X-API-Key'] = k;
  return out;
}

async function parse(res) {
  const text = await res.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch { return { error: text.slice(0, 500) }; }
}

/// `api('/api/admin/…', {method, json, body, headers, key})` → the parsed JSON answer, or
/// throws ApiError. A 401 signs the console out (the key was changed or removed).
export async function api(path, opts = {}) {
  const init = { method: opts.method || 'GET', cache: 'no-store', credentials: 'omit' };
  const extra = { ...(opts.headers || {}) };
  if (opts.json !== undefined) {
    extra['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.json);
  } else if (opts.body !== undefined) {
    init.body = opts.body;
  }
  init.headers = headers(extra, opts.key);
  const res = await fetch(path, init);
  if (opts.blob && res.ok) return res.blob();
  const data = await parse(res);
  if (!res.ok && !(opts.accept || []).includes(res.status)) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && opts.key === undefined) onUnauthorized(err);
    throw err;
  }
  return data;
}

/// An upload with progress (fetch has none): resolves with the JSON answer.
export function upload(path, file, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [k, v] of Object.entries(headers({ 'Content-Type': contentType }))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { data = { error: xhr.responseText.slice(0, 500) }; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else {
        const err = new ApiError(xhr.status, data);
        if (xhr.status === 401) onUnauthorized(err);
        reject(err);
      }
    };
    xhr.onerror = () => reject(new ApiError(0, { error: 'the upload did not reach the server' }));
    xhr.send(file);
  });
}

export const query = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
};

/// The server's business date today (its clock and TIMEZONE, not the browser's): the last
/// day of the statistics' default range.
export async function serverToday() {
  const s = await api('/api/admin/statistics');
  return s.date_range.end;
}

export function addDays(date, n) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
