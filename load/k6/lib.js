// Shared helpers of the k6 scenarios (see README.md).
//
// Environment:
//   HUB_URL         base URL of the hub (default http://127.0.0.1:8080)
//   NH_ADMIN_TOKEN  the hub's admin token, for the admin scenarios (X-Admin-Token)
//   CALLBACK_KEY    the raw HMAC key of the callback vendor (the hub holds whsec_<base64 of it>)
//
// Every id a script creates carries a run id made in setup(), so runs never collide with each
// other or with the data of `hub-load`.

import http from 'k6/http';
import exec from 'k6/execution';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import { fail, sleep } from 'k6';

export const BASE_URL = (__ENV.HUB_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const ADMIN_TOKEN = __ENV.NH_ADMIN_TOKEN || '';
export const CALLBACK_KEY = __ENV.CALLBACK_KEY || '';

/**
 * The `name` tag of each request, so thresholds and the summary group by route, not by URL.
 * Plain words on purpose: k6 threshold selectors (`metric{name:…}`) are split on `{`, `,`, `:`.
 */
export const ROUTES = {
  send: 'notifications.send',
  list: 'notifications.list',
  get: 'notifications.get',
  putRecipient: 'recipients.put',
  putPreferences: 'recipients.preferences.put',
  registerDevice: 'recipients.devices.register',
  callback: 'callbacks.receive',
  bulkReplay: 'admin.dlq.bulk_replay',
};

/** Trend statistics shown in the end-of-test summary (p(99) is what the thresholds use). */
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'];

/** A string environment variable, or the default. */
export function env(name, fallback) {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
}

/** A positive integer environment variable, or the default; anything else stops the test. */
export function intEnv(name, fallback) {
  const raw = env(name, String(fallback));
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    fail(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** A short id for this run: base 36 milliseconds plus a random suffix. */
export function newRunId() {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0')}`;
}

/**
 * An Idempotency-Key unique in the whole test: run id, scenario and the iteration number of
 * this scenario across all VUs. Only token characters (letters, digits, `-`), so it is sent bare.
 */
export function idempotencyKey(runId) {
  return `k6-${runId}-${exec.scenario.name}-${exec.scenario.iterationInTest}`;
}

/** Request parameters with a JSON body, a route tag and any extra headers or params. */
export function jsonParams(route, extra = {}) {
  const { headers = {}, tags = {}, ...rest } = extra;
  return {
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
    tags: { name: route, ...tags },
    ...rest,
  };
}

/** A response header by name, whatever its case (k6 canonicalizes names the Go way). */
export function header(res, name) {
  const wanted = name.toLowerCase();
  for (const key of Object.keys(res.headers)) {
    if (key.toLowerCase() === wanted) {
      return res.headers[key];
    }
  }
  return undefined;
}

/** The parsed JSON body, or null when the body is not JSON. */
export function body(res) {
  try {
    return res.json();
  } catch (_) {
    return null;
  }
}

/** Whether the answer is an RFC 9457 problem with this `code`. */
export function isProblem(res, code) {
  const type = header(res, 'Content-Type') || '';
  const problem = body(res);
  return type.startsWith('application/problem+json') && problem !== null && problem.code === code;
}

/** Stops setup with the answer when it is not one of the expected statuses. */
function expectStatus(res, statuses, what) {
  if (!statuses.includes(res.status)) {
    fail(`${what}: expected ${statuses.join(' or ')}, got ${res.status} ${res.body}`);
  }
}

/** An e-mail address, an E.164 number and a push token for the `index`-th recipient of a run. */
export function addressesFor(runId, index) {
  return {
    email: `k6-${runId}-${index}@example.com`,
    // +8210 and eight digits: E.164 with 12 digits.
    sms: `+8210${String(10000000 + (index % 90000000))}`,
    slack: `https://hooks.slack.com/services/T0000K6/B0000K6/${runId}${index}`,
    // 32-4096 characters; the mock vendors only fail tokens naming fail-*/unregistered.
    token: `k6tok-${runId}-${index}-`.padEnd(64, 'x'),
  };
}

/**
 * Creates (or replaces) a recipient with `channels` (`[{type, address?}]`) and turns its quiet
 * hours off, so sends at any hour of the day go out now. Stops the test on any other answer.
 */
export function putRecipient(id, channels, { locale = 'en', timezone = 'Asia/Seoul' } = {}) {
  const url = `${BASE_URL}/api/v1/recipients/${encodeURIComponent(id)}`;
  const res = http.put(url, JSON.stringify({ channels, locale, timezone }), jsonParams(ROUTES.putRecipient));
  expectStatus(res, [200, 201], `PUT recipient ${id}`);
  const prefs = http.put(
    `${url}/preferences`,
    JSON.stringify({ quietHours: null }),
    jsonParams(ROUTES.putPreferences),
  );
  expectStatus(prefs, [200], `PUT preferences of ${id}`);
  if (body(prefs).quietHours !== null) {
    fail(`PUT preferences of ${id}: quiet hours are still on: ${prefs.body}`);
  }
}

/** Registers a push device (201 new, 200 known). */
export function registerDevice(id, token, platform = 'ANDROID') {
  const res = http.post(
    `${BASE_URL}/api/v1/recipients/${encodeURIComponent(id)}/devices`,
    JSON.stringify({ platform, token }),
    jsonParams(ROUTES.registerDevice),
  );
  expectStatus(res, [200, 201], `POST device of ${id}`);
}

/**
 * Creates `count` recipients `k6-{runId}-{prefix}-{i}` listing `channelTypes` (PUSH and IN_APP
 * without an address), quiet hours off; with `devices`, one push device each. Returns the ids.
 */
export function setupRecipients(runId, prefix, count, channelTypes, { devices = false } = {}) {
  const ids = [];
  for (let i = 0; i < count; i++) {
    const id = `k6-${runId}-${prefix}-${i}`;
    const a = addressesFor(runId, i);
    const addressOf = { EMAIL: a.email, SMS: a.sms, KAKAO_ALIMTALK: a.sms, SLACK: a.slack };
    const channels = channelTypes.map((type) => (type in addressOf ? { type, address: addressOf[type] } : { type }));
    putRecipient(id, channels);
    if (devices) {
      registerDevice(id, a.token);
    }
    ids.push(id);
  }
  return ids;
}

/** `POST /api/v1/notifications` with a fresh Idempotency-Key; `params` as for jsonParams. */
export function send(runId, payload, params = {}) {
  const { headers = {}, ...rest } = params;
  return http.post(
    `${BASE_URL}/api/v1/notifications`,
    JSON.stringify(payload),
    jsonParams(ROUTES.send, { headers: { 'Idempotency-Key': idempotencyKey(runId), ...headers }, ...rest }),
  );
}

/**
 * Sends from setup() (where there is no scenario, so the key comes from `key`) and returns the
 * receipt; stops the test unless it is 202.
 */
export function sendInSetup(payload, key) {
  const res = http.post(
    `${BASE_URL}/api/v1/notifications`,
    JSON.stringify(payload),
    jsonParams(ROUTES.send, { headers: { 'Idempotency-Key': key } }),
  );
  expectStatus(res, [202], `POST notification (${key})`);
  return body(res);
}

/** GET /api/v1/notifications/{id}, parsed. */
export function getNotification(id) {
  const res = http.get(`${BASE_URL}/api/v1/notifications/${encodeURIComponent(id)}`, {
    tags: { name: ROUTES.get },
  });
  expectStatus(res, [200], `GET notification ${id}`);
  return body(res);
}

/**
 * Polls each notification until every delivery has left PENDING/DISPATCHING, or stops the test
 * after `timeoutSeconds`. Returns the notifications as last read.
 */
export function waitUntilDispatched(notificationIds, timeoutSeconds = 60) {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const done = {};
  while (Object.keys(done).length < notificationIds.length) {
    for (const id of notificationIds) {
      if (done[id]) {
        continue;
      }
      const n = getNotification(id);
      if (n.deliveries.every((d) => d.status !== 'PENDING' && d.status !== 'DISPATCHING')) {
        done[id] = n;
      }
    }
    if (Object.keys(done).length < notificationIds.length) {
      if (Date.now() > deadline) {
        fail(`deliveries still not dispatched after ${timeoutSeconds} s: are the relay and worker roles running?`);
      }
      sleep(0.5);
    }
  }
  return notificationIds.map((id) => done[id]);
}

/** The `whsec_…` secret the hub needs for CALLBACK_KEY (standard base64 of its bytes). */
export function callbackSecret(key = CALLBACK_KEY) {
  return `whsec_${encoding.b64encode(key)}`;
}

/**
 * Standard Webhooks headers for `rawBody` (the exact string sent): HMAC-SHA256 keyed with the
 * raw bytes of `key` over `{id}.{timestamp}.{rawBody}`, as `v1,<base64>`.
 */
export function webhookHeaders(id, timestamp, rawBody, key = CALLBACK_KEY) {
  const signature = crypto.hmac('sha256', key, `${id}.${timestamp}.${rawBody}`, 'base64');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': `v1,${signature}`,
  };
}

/** Unix seconds now (k6's clock: it must agree with the hub's within the 5-minute tolerance). */
export function unixNow() {
  return Math.floor(Date.now() / 1000);
}

/** Parses `capacity/period` as NH_RATE_LIMITS and NH_ADMIN_RATE_LIMIT write it (`5/60s`, `30/1m`). */
export function parsePolicy(text) {
  const m = /^\s*(\d+)\s*\/\s*(\d+)(ms|s|m|h)\s*$/.exec(text);
  if (!m) {
    fail(`not a capacity/period policy such as 5/60s: ${JSON.stringify(text)}`);
  }
  const unitSeconds = { ms: 0.001, s: 1, m: 60, h: 3600 }[m[3]];
  return { capacity: Number(m[1]), periodSeconds: Number(m[2]) * unitSeconds };
}
