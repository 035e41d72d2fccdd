// Single-channel EMAIL sends at a constant arrival rate (open loop).
//
//   k6 run -e RATE=200 -e DURATION=2m load/k6/send-single.js
//
// Hub settings it expects: rate limits out of the way, e.g. NH_RATE_LIMITS=EMAIL=100000000/1s
// (the default 30/60s per recipient would turn most sends into 429s, which count as failures).
//
// Environment: HUB_URL, RATE (sends/s, default 100), DURATION (default 1m), RECIPIENTS
// (default 100), VUS (pre-allocated, default 50), MAX_VUS (default 400).

import { check } from 'k6';
import { ROUTES, SUMMARY_TREND_STATS, body, env, intEnv, newRunId, send, setupRecipients } from './lib.js';

const RATE = intEnv('RATE', 100);
const RECIPIENTS = intEnv('RECIPIENTS', 100);

export const options = {
  scenarios: {
    send_single: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: env('DURATION', '1m'),
      preAllocatedVUs: intEnv('VUS', 50),
      maxVUs: intEnv('MAX_VUS', 400),
    },
  },
  thresholds: {
    // Fewer than 1 % of all requests fail (any status outside 2xx/3xx, or no answer).
    http_req_failed: ['rate<0.01'],
    // 99 % of sends are answered within 25 ms.
    [`http_req_duration{name:${ROUTES.send}}`]: ['p(99)<25'],
    // Every 202 has exactly one EMAIL delivery.
    checks: ['rate>0.99'],
    // The client kept up with the arrival rate (raise MAX_VUS if not).
    dropped_iterations: ['count==0'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  const runId = newRunId();
  return { runId, recipients: setupRecipients(runId, 'single', RECIPIENTS, ['EMAIL']) };
}

export default function (data) {
  const recipientId = data.recipients[Math.floor(Math.random() * data.recipients.length)];
  const res = send(data.runId, {
    recipientId,
    kind: 'TRANSACTIONAL',
    title: 'Your order has shipped',
    body: 'Order A-1042 left the warehouse today and should arrive on Friday.',
    channels: ['EMAIL'],
    metadata: { source: 'k6', scenario: 'send-single' },
  });
  const receipt = body(res);
  check(res, {
    'send: 202 Accepted': (r) => r.status === 202,
    'send: one EMAIL delivery': () =>
      receipt !== null && receipt.deliveries.length === 1 && receipt.deliveries[0].channel === 'EMAIL',
  });
}
