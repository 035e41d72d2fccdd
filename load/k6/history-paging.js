// History paging under load (SPEC §5.1): `GET /api/v1/notifications?recipientId=…&limit=…`
// followed through `nextCursor` to the last page, by several VUs at once. Every walk must see
// each of the recipient's notifications exactly once, newest first.
//
//   k6 run -e NOTIFICATIONS=100 -e LIMIT=7 load/k6/history-paging.js
//
// Setup sends NOTIFICATIONS IN_APP notifications to one fresh recipient. Hub settings it
// expects: the IN_APP limit must allow them within a minute — the default 120/60s does for the
// default 100; above 120 set e.g. NH_RATE_LIMITS=IN_APP=100000000/1s.
//
// Environment: HUB_URL, NOTIFICATIONS (default 100), LIMIT (page size 1-100, default 7),
// VUS (default 5), DURATION (default 30s).

import http from 'k6/http';
import { check, fail } from 'k6';
import { Trend } from 'k6/metrics';
import { BASE_URL, ROUTES, SUMMARY_TREND_STATS, body, env, intEnv, newRunId, sendInSetup, setupRecipients } from './lib.js';

const NOTIFICATIONS = intEnv('NOTIFICATIONS', 100);
const LIMIT = intEnv('LIMIT', 7);
const PAGES = Math.ceil(NOTIFICATIONS / LIMIT);

const walkDuration = new Trend('history_walk_duration', true);

export const options = {
  scenarios: {
    history_paging: {
      executor: 'constant-vus',
      vus: intEnv('VUS', 5),
      duration: env('DURATION', '30s'),
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    // Every walk is complete, in order and without repeats.
    checks: ['rate==1'],
    // 95 % of pages within 25 ms, 99 % within 50 ms.
    [`http_req_duration{name:${ROUTES.list}}`]: ['p(95)<25', 'p(99)<50'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
  // One setup request per notification.
  setupTimeout: `${Math.max(60, Math.ceil(NOTIFICATIONS / 10))}s`,
};

function page(recipientId, cursor) {
  let url = `${BASE_URL}/api/v1/notifications?recipientId=${encodeURIComponent(recipientId)}&limit=${LIMIT}`;
  if (cursor !== null) {
    url += `&cursor=${encodeURIComponent(cursor)}`;
  }
  return http.get(url, { tags: { name: ROUTES.list } });
}

export function setup() {
  if (LIMIT > 100) {
    fail('LIMIT must be at most 100 (the API refuses larger pages)');
  }
  const runId = newRunId();
  const [recipientId] = setupRecipients(runId, 'history', 1, ['IN_APP']);
  const ids = [];
  for (let i = 0; i < NOTIFICATIONS; i++) {
    const receipt = sendInSetup(
      { recipientId, kind: 'SERVICE', title: `Update ${i}`, body: `History item ${i}.`, channels: ['IN_APP'] },
      `k6-${runId}-history-setup-${i}`,
    );
    ids.push(receipt.notificationId);
  }
  // A cursor the hub did not make is refused, not misread.
  const bad = http.get(
    `${BASE_URL}/api/v1/notifications?recipientId=${encodeURIComponent(recipientId)}&cursor=not-a-cursor`,
    { tags: { name: ROUTES.list }, responseCallback: http.expectedStatuses(400) },
  );
  check(bad, { 'history: a made-up cursor is 400': (r) => r.status === 400 });
  return { recipientId, ids };
}

export default function (data) {
  const expected = new Set(data.ids);
  const seen = new Set();
  let repeats = 0;
  let outOfOrder = 0;
  let badPage = null;
  let lastCreated = Infinity;
  let cursor = null;
  let pages = 0;
  const started = Date.now();
  // One page more than needed: a cursor that never ends is a failure too.
  while (pages <= PAGES) {
    const res = page(data.recipientId, cursor);
    pages++;
    const doc = body(res);
    if (res.status !== 200 || doc === null || !Array.isArray(doc.items) || doc.items.length > LIMIT) {
      badPage = `${res.status} ${res.body}`;
      break;
    }
    for (const item of doc.items) {
      if (seen.has(item.notificationId)) {
        repeats++;
      }
      seen.add(item.notificationId);
      const created = Date.parse(item.createdAt);
      if (created > lastCreated) {
        outOfOrder++;
      }
      lastCreated = created;
    }
    cursor = doc.nextCursor;
    if (cursor === null || cursor === undefined) {
      cursor = null;
      break;
    }
  }
  walkDuration.add(Date.now() - started);
  check(null, {
    'history: every page is 200 with at most LIMIT items': () => badPage === null,
    'history: the walk ends (nextCursor null)': () => cursor === null,
    [`history: ${PAGES} pages`]: () => pages === PAGES,
    'history: no id repeats': () => repeats === 0,
    'history: every notification seen': () => seen.size === expected.size && [...expected].every((id) => seen.has(id)),
    'history: newest first': () => outOfOrder === 0,
  });
}
