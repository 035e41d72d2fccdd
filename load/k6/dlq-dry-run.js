// DLQ bulk replay dry runs (SPEC §5.6): `POST /api/v1/admin/dlq/bulk-replay` with `{}` and
// `X-Admin-Token` → 200 `{mode: "DRY_RUN", estimatedCount, sampleDeliveryIds (≤ 10)}`. Nothing
// changes; each dry run counts the EXHAUSTED deliveries in the database and writes an audit row.
//
//   NH_ADMIN_TOKEN=… k6 run -e RATE=20 load/k6/dlq-dry-run.js
//
// Hub settings it expects: NH_ADMIN_TOKEN set to the same token, and an admin rate limit that
// lets RATE requests/s through from one IP for the `dlq.bulk` scope — the default
// NH_ADMIN_RATE_LIMIT=60/60s allows a burst of 60 then one a second, so for the default RATE=20
// run the hub with e.g. NH_ADMIN_RATE_LIMIT=100000/60s. With the default limit, run RATE=1.
// Tell the script the hub's setting in ADMIN_RATE_LIMIT (default 100000/60s): it refuses to
// start when RATE could not pass, and any 429 fails the `admin_rate_limited` threshold.
//
// Environment: HUB_URL, NH_ADMIN_TOKEN (required), ADMIN_RATE_LIMIT (default 100000/60s),
// RATE (requests/s, default 20), DURATION (default 1m).

import http from 'k6/http';
import { check, fail } from 'k6';
import { Counter } from 'k6/metrics';
import { ADMIN_TOKEN, BASE_URL, ROUTES, SUMMARY_TREND_STATS, body, env, intEnv, jsonParams, parsePolicy } from './lib.js';

const RATE = intEnv('RATE', 20);
const DURATION = env('DURATION', '1m');
const ADMIN_LIMIT = parsePolicy(env('ADMIN_RATE_LIMIT', '100000/60s'));

const rateLimited = new Counter('admin_rate_limited');

export const options = {
  scenarios: {
    dlq_dry_run: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: 10,
      maxVUs: 100,
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    // Every answer is a well-formed dry run.
    checks: ['rate>0.99'],
    // The hub's admin limit let the whole run through (see ADMIN_RATE_LIMIT above).
    admin_rate_limited: ['count==0'],
    // A dry run (a count and up to 10 ids from the DLQ, plus an audit row) within 50 ms.
    [`http_req_duration{name:${ROUTES.bulkReplay}}`]: ['p(99)<50'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function setup() {
  if (ADMIN_TOKEN === '') {
    fail('NH_ADMIN_TOKEN is required: the same token the hub runs with');
  }
  const sustained = ADMIN_LIMIT.capacity / ADMIN_LIMIT.periodSeconds;
  if (RATE > sustained) {
    fail(
      `RATE=${RATE}/s is above what ADMIN_RATE_LIMIT=${ADMIN_LIMIT.capacity}/${ADMIN_LIMIT.periodSeconds}s sustains ` +
        `(${sustained.toFixed(2)}/s): raise NH_ADMIN_RATE_LIMIT on the hub and ADMIN_RATE_LIMIT here, or lower RATE`,
    );
  }
  // The token is really checked: a wrong one is 401.
  const wrong = http.post(
    `${BASE_URL}/api/v1/admin/dlq/bulk-replay`,
    '{}',
    jsonParams(ROUTES.bulkReplay, {
      headers: { 'X-Admin-Token': `${ADMIN_TOKEN}-wrong` },
      responseCallback: http.expectedStatuses(401),
    }),
  );
  if (wrong.status !== 401) {
    fail(`a wrong admin token should be 401, got ${wrong.status} ${wrong.body}`);
  }
}

export default function () {
  const res = http.post(
    `${BASE_URL}/api/v1/admin/dlq/bulk-replay`,
    '{}',
    jsonParams(ROUTES.bulkReplay, { headers: { 'X-Admin-Token': ADMIN_TOKEN } }),
  );
  if (res.status === 429) {
    rateLimited.add(1);
  }
  const dry = body(res);
  check(res, {
    'dry run: 200': (r) => r.status === 200,
    'dry run: mode DRY_RUN': () => dry !== null && dry.mode === 'DRY_RUN',
    'dry run: estimatedCount is a count': () => dry !== null && Number.isInteger(dry.estimatedCount) && dry.estimatedCount >= 0,
    'dry run: at most 10 sample ids, each dlv_…': () =>
      dry !== null &&
      Array.isArray(dry.sampleDeliveryIds) &&
      dry.sampleDeliveryIds.length <= 10 &&
      dry.sampleDeliveryIds.every((id) => id.startsWith('dlv_')),
  });
}
