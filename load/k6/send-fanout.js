// Multi-channel sends at a constant arrival rate: each recipient lists EMAIL, SMS, SLACK, IN_APP
// and PUSH with one registered device, so every send makes five deliveries in one transaction
// (notification + 5 deliveries + 5 outbox rows) and five token buckets are taken at once.
//
//   k6 run -e RATE=50 load/k6/send-fanout.js
//
// Hub settings it expects: rate limits out of the way on all five channels, e.g.
// NH_RATE_LIMITS=PUSH=100000000/1s,EMAIL=100000000/1s,SMS=100000000/1s,SLACK=100000000/1s,IN_APP=100000000/1s
// (SMS is 5/60s per recipient by default). Mock vendors (the default) for every channel.
//
// Environment: HUB_URL, RATE (sends/s, default 50), DURATION (default 1m), RECIPIENTS
// (default 50), VUS (default 50), MAX_VUS (default 400).

import { check } from 'k6';
import { ROUTES, SUMMARY_TREND_STATS, body, env, intEnv, newRunId, send, setupRecipients } from './lib.js';

const CHANNELS = ['PUSH', 'EMAIL', 'SMS', 'SLACK', 'IN_APP'];

export const options = {
  scenarios: {
    send_fanout: {
      executor: 'constant-arrival-rate',
      rate: intEnv('RATE', 50),
      timeUnit: '1s',
      duration: env('DURATION', '1m'),
      preAllocatedVUs: intEnv('VUS', 50),
      maxVUs: intEnv('MAX_VUS', 400),
    },
  },
  thresholds: {
    // Fewer than 1 % of all requests fail.
    http_req_failed: ['rate<0.01'],
    // 99 % of five-channel sends are answered within 50 ms (twice the single-channel budget:
    // five times the rows in the same transaction).
    [`http_req_duration{name:${ROUTES.send}}`]: ['p(99)<50'],
    // Every 202 has one delivery per channel, in canonical order.
    checks: ['rate>0.99'],
    dropped_iterations: ['count==0'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  const runId = newRunId();
  const recipients = setupRecipients(runId, 'fanout', intEnv('RECIPIENTS', 50), CHANNELS, { devices: true });
  return { runId, recipients };
}

export default function (data) {
  const recipientId = data.recipients[Math.floor(Math.random() * data.recipients.length)];
  const res = send(data.runId, {
    recipientId,
    kind: 'TRANSACTIONAL',
    title: 'Sign-in from a new device',
    body: 'We noticed a sign-in to your account from a new device. If this was you, nothing to do.',
    metadata: { source: 'k6', scenario: 'send-fanout' },
  });
  const receipt = body(res);
  check(res, {
    'fanout: 202 Accepted': (r) => r.status === 202,
    'fanout: five deliveries, one per channel, nothing skipped': () =>
      receipt !== null &&
      receipt.skipped.length === 0 &&
      JSON.stringify(receipt.deliveries.map((d) => d.channel)) === JSON.stringify(CHANNELS),
  });
}
