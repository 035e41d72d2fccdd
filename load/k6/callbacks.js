// Signed vendor callbacks (SPEC §5.5, Standard Webhooks), three groups at once:
//
//   valid     — correctly signed `DELIVERED` reports on real deliveries → 200
//   stale     — correctly signed, but `webhook-timestamp` 10 minutes old → 401 INVALID_SIGNATURE
//   tampered  — signed over one body, sent with another (`BOUNCED`)      → 401 INVALID_SIGNATURE
//
//   CALLBACK_KEY=k6-callback-key k6 run load/k6/callbacks.js
//
// Hub settings it expects: the vendor's secret is whsec_ + the standard base64 of CALLBACK_KEY's
// bytes, e.g.
//   NH_CALLBACK_SECRETS="mockvendor=whsec_$(printf %s "$CALLBACK_KEY" | base64 -w0)"
// (setup prints the exact value). The hub's clock and k6's must agree within the 5-minute
// tolerance. Setup sends notifications and waits for their EMAIL deliveries to be dispatched by
// the mock vendor, so the relay and worker roles must run (the default).
//
// Environment: HUB_URL, CALLBACK_KEY (required), CALLBACK_VENDOR (default mockvendor),
// DELIVERIES (per group, default 20), RATE (callbacks/s per group, default 30), DURATION
// (default 30s).

import http from 'k6/http';
import exec from 'k6/execution';
import { check, fail } from 'k6';
import {
  BASE_URL,
  CALLBACK_KEY,
  ROUTES,
  SUMMARY_TREND_STATS,
  callbackSecret,
  env,
  getNotification,
  intEnv,
  isProblem,
  body as parse,
  newRunId,
  sendInSetup,
  setupRecipients,
  unixNow,
  waitUntilDispatched,
  webhookHeaders,
} from './lib.js';

const VENDOR = env('CALLBACK_VENDOR', 'mockvendor');
const DELIVERIES = intEnv('DELIVERIES', 20);
const RATE = intEnv('RATE', 30);
const DURATION = env('DURATION', '30s');
const STALE_SECONDS = 600;

function group(fn) {
  return {
    executor: 'constant-arrival-rate',
    exec: fn,
    rate: RATE,
    timeUnit: '1s',
    duration: DURATION,
    preAllocatedVUs: 10,
    maxVUs: 100,
  };
}

export const options = {
  scenarios: { valid: group('valid'), stale: group('stale'), tampered: group('tampered') },
  thresholds: {
    // 401 is the expected answer of the stale and tampered groups (see responseCallback).
    http_req_failed: ['rate<0.01'],
    'checks{scenario:valid}': ['rate>0.99'],
    // A refusal is never anything but 401 INVALID_SIGNATURE.
    'checks{scenario:stale}': ['rate==1'],
    'checks{scenario:tampered}': ['rate==1'],
    // Afterwards every delivery a tampered callback named is still SENT.
    'checks{phase:teardown}': ['rate==1'],
    // A valid callback (HMAC, claim of the webhook-id, one delivery update) within 25 ms …
    [`http_req_duration{name:${ROUTES.callback},scenario:valid}`]: ['p(99)<25'],
    // … and a refusal, which touches no store, within 10 ms.
    [`http_req_duration{name:${ROUTES.callback},scenario:stale}`]: ['p(99)<10'],
    [`http_req_duration{name:${ROUTES.callback},scenario:tampered}`]: ['p(99)<10'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
  setupTimeout: '120s',
};

/** Sends one EMAIL notification to `recipientId`; returns its id. */
function notification(runId, recipientId, label) {
  const receipt = sendInSetup(
    { recipientId, kind: 'TRANSACTIONAL', title: 'Receipt', body: `Callback target ${label}.`, channels: ['EMAIL'] },
    `k6-${runId}-callbacks-${label}`,
  );
  return receipt.notificationId;
}

function deliveryIds(notificationIds) {
  return waitUntilDispatched(notificationIds).map((n) => {
    const d = n.deliveries[0];
    if (d.status !== 'SENT') {
      fail(`delivery ${d.deliveryId} is ${d.status}, not SENT: is EMAIL on the mock vendor?`);
    }
    return d.deliveryId;
  });
}

export function setup() {
  if (CALLBACK_KEY === '') {
    fail('CALLBACK_KEY is required (the hub needs NH_CALLBACK_SECRETS=<vendor>=whsec_<base64 of it>)');
  }
  console.log(`the hub needs NH_CALLBACK_SECRETS=${VENDOR}=${callbackSecret()}`);
  const runId = newRunId();
  // The rate limit is per recipient × channel (EMAIL 30/60s by default): one recipient per 25.
  const recipients = setupRecipients(runId, 'callbacks', Math.ceil((2 * DELIVERIES) / 25), ['EMAIL']);
  const to = (i) => recipients[Math.floor(i / 25)];
  const valid = [];
  const tampered = [];
  for (let i = 0; i < DELIVERIES; i++) {
    valid.push(notification(runId, to(i), `valid-${i}`));
    tampered.push(notification(runId, to(DELIVERIES + i), `tampered-${i}`));
  }
  return { runId, valid: deliveryIds(valid), tampered: deliveryIds(tampered), tamperedNotifications: tampered };
}

function post(webhookId, timestamp, signedBody, sentBody, expected) {
  const headers = { 'Content-Type': 'application/json', ...webhookHeaders(webhookId, timestamp, signedBody) };
  return http.post(`${BASE_URL}/api/v1/callbacks/${encodeURIComponent(VENDOR)}`, sentBody, {
    headers,
    tags: { name: ROUTES.callback },
    responseCallback: http.expectedStatuses(expected),
  });
}

function webhookId(data) {
  return `msg_k6_${data.runId}_${exec.scenario.name}_${exec.scenario.iterationInTest}`;
}

function pick(ids) {
  return ids[exec.scenario.iterationInTest % ids.length];
}

export function valid(data) {
  const raw = JSON.stringify({ deliveryId: pick(data.valid), status: 'DELIVERED' });
  const res = post(webhookId(data), unixNow(), raw, raw, 200);
  const receipt = parse(res);
  check(res, {
    'valid: 200': (r) => r.status === 200,
    // APPLIED the first time a delivery hears DELIVERED, UNCHANGED after (already DELIVERED).
    'valid: APPLIED or UNCHANGED, now DELIVERED': () =>
      receipt !== null && ['APPLIED', 'UNCHANGED'].includes(receipt.result) && receipt.deliveryStatus === 'DELIVERED',
  });
}

export function stale(data) {
  const raw = JSON.stringify({ deliveryId: pick(data.valid), status: 'DELIVERED' });
  const res = post(webhookId(data), unixNow() - STALE_SECONDS, raw, raw, 401);
  check(res, { 'stale: 401 INVALID_SIGNATURE': (r) => r.status === 401 && isProblem(r, 'INVALID_SIGNATURE') });
}

export function tampered(data) {
  const deliveryId = pick(data.tampered);
  const signed = JSON.stringify({ deliveryId, status: 'DELIVERED' });
  const sent = JSON.stringify({ deliveryId, status: 'BOUNCED' });
  const res = post(webhookId(data), unixNow(), signed, sent, 401);
  check(res, { 'tampered: 401 INVALID_SIGNATURE': (r) => r.status === 401 && isProblem(r, 'INVALID_SIGNATURE') });
}

export function teardown(data) {
  // Had a tampered BOUNCED got through, its delivery would be EXHAUSTED now.
  for (const id of data.tamperedNotifications) {
    const d = getNotification(id).deliveries[0];
    check(
      d,
      { 'teardown: no tampered callback took effect (still SENT)': (x) => x.status === 'SENT' },
      { phase: 'teardown' },
    );
  }
}
