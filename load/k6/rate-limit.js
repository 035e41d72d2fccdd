// Saturates one recipient × channel (SMS) and checks every denial (SPEC §5.1): 429 problem+json
// with code RATE_LIMITED naming SMS, `Retry-After` in whole seconds ≥ 1, and the `RateLimit` /
// `RateLimit-Policy` headers (IETF draft) agreeing with it.
//
//   k6 run load/k6/rate-limit.js
//
// Hub settings it expects: the SMS limit it is told in SMS_LIMIT (default `5/60s`, the hub's
// default — leave NH_RATE_LIMITS unset, or give SMS the same value in both places). It checks
// that no more sends were accepted than the bucket allows over the run.
//
// Environment: HUB_URL, SMS_LIMIT (default 5/60s), RATE (sends/s, default 20), DURATION
// (default 30s).

import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate } from 'k6/metrics';
import { ROUTES, SUMMARY_TREND_STATS, body, env, header, intEnv, isProblem, newRunId, parsePolicy, send, setupRecipients } from './lib.js';

const LIMIT = parsePolicy(env('SMS_LIMIT', '5/60s'));
const DURATION = env('DURATION', '30s');
const RATE = intEnv('RATE', 20);

/** Seconds in a k6 duration such as `30s`, `2m`, `1m30s`. */
function seconds(text) {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
  }
  return total;
}

// A full bucket, plus what refills over the run (one token every period/capacity), plus one
// for the timing of the last refill.
const MAX_ACCEPTED = LIMIT.capacity + Math.ceil((seconds(DURATION) * LIMIT.capacity) / LIMIT.periodSeconds) + 1;

const accepted = new Counter('sends_accepted');
const denied = new Rate('sends_denied');

export const options = {
  scenarios: {
    saturate_sms: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: 10,
      maxVUs: 50,
    },
  },
  thresholds: {
    // 429 is an expected answer here: failures are anything but 202 and 429.
    http_req_failed: ['rate<0.01'],
    // Every denial is well-formed.
    checks: ['rate==1'],
    // The bucket held: at most a full bucket plus the refill over the run was accepted …
    sends_accepted: [`count<=${MAX_ACCEPTED}`],
    // … so nearly everything else was denied.
    sends_denied: ['rate>0.5'],
    // Denials are cheap: a recipient read and the bucket check, nothing is written (the
    // Idempotency-Key is released, not stored).
    [`http_req_duration{name:${ROUTES.send},status:429}`]: ['p(99)<25'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  const runId = newRunId();
  const [recipientId] = setupRecipients(runId, 'ratelimit', 1, ['SMS']);
  return { runId, recipientId };
}

export default function (data) {
  const res = send(
    data.runId,
    { recipientId: data.recipientId, kind: 'TRANSACTIONAL', body: 'Your code is 123456.', channels: ['SMS'] },
    { responseCallback: http.expectedStatuses(202, 429) },
  );
  accepted.add(res.status === 202 ? 1 : 0);
  denied.add(res.status === 429);
  if (res.status !== 429) {
    check(res, { 'saturate: 202 or 429': (r) => r.status === 202 });
    return;
  }
  const retryAfter = header(res, 'Retry-After');
  const rateLimit = header(res, 'RateLimit') || '';
  const policy = header(res, 'RateLimit-Policy') || '';
  const problem = body(res);
  check(res, {
    'denied: problem+json with code RATE_LIMITED': (r) => isProblem(r, 'RATE_LIMITED'),
    'denied: names the SMS channel': () => problem !== null && problem.channel === 'SMS',
    'denied: Retry-After is whole seconds ≥ 1': () => /^\d+$/.test(retryAfter || '') && Number(retryAfter) >= 1,
    'denied: Retry-After at most one refill interval': () =>
      Number(retryAfter) <= Math.ceil(LIMIT.periodSeconds / LIMIT.capacity),
    'denied: RateLimit has r=0 and t=Retry-After': () =>
      rateLimit.startsWith('"sms";') && rateLimit.includes('r=0') && rateLimit.includes(`t=${retryAfter}`),
    'denied: RateLimit-Policy has the configured quota and window': () =>
      policy.startsWith('"sms";') &&
      policy.includes(`q=${LIMIT.capacity}`) &&
      policy.includes(`w=${Math.ceil(LIMIT.periodSeconds)}`),
  });
}
