#!/usr/bin/env node
/**
 * The worst case of a text reply ("ACK 4821"), on the built code (npm run build):
 *
 *   node bench/phone-replies.js [--calls 10000] [--reps 5]
 *
 * A reply is matched against every text and call sent to the phone in the last 7 days. Texts
 * fold (at most one per fold window), calls about different incidents do not when the person has
 * no text in the same rule: the most a phone can have is one call per incident. This seeds a
 * SQLite store (the embedded default, whose statements run on the event loop) with `calls` calls
 * to one phone, each carrying its TwiML, plus 2,016 folded texts naming ten incidents each (one
 * per 5 minutes for 7 days), and times
 * PhoneReplies.incidentsPagedTo, the part of a reply that grows with them: milliseconds of one
 * call, which holds the event loop.
 */
'use strict';
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { randomUUID } = require('node:crypto');
const { sql } = require('kysely');
const { parseArgs } = require('./lib');
const { buildConfig } = require('../dist/config/config.loader');
const { openDatabase, migrateToLatest } = require('../dist/database/database');
const { PhoneDeliveryRepository } = require('../dist/notifications/escalation/phone-deliveries.repository');
const { PhoneReplies } = require('../dist/notifications/escalation/phone-replies.service');
const { voiceTwiml, smsBody } = require('../dist/notifications/channels/twilio/twilio.render');

async function main() {
  const { calls, reps } = parseArgs({ calls: 10_000, reps: 5 });
  const dir = mkdtempSync(join(tmpdir(), 'llm-im-phone-bench-'));
  const config = buildConfig({ storage: { sqlite_path: join(dir, 'bench.db') } }, {});
  const { db, dialect, close } = openDatabase(config);
  try {
    await migrateToLatest(db, dialect);
    // Deliveries only: the incidents they name do not matter to the lookup.
    await sql`PRAGMA foreign_keys = OFF`.execute(db);
    const phone = '+4915100000001';
    const now = Date.now();
    const row = (i, channel, payload, at) => ({
      id: randomUUID(),
      incident_id: randomUUID(),
      event: 'incident.detected',
      channel,
      action: channel === 'voice' ? 'call' : 'send',
      target: phone,
      target_ref: null,
      payload,
      status: 'sent',
      attempts: 1,
      max_attempts: 4,
      next_attempt_at: at,
      lease_owner: null,
      lease_until: null,
      last_error: null,
      external_ref: null,
      created_at: at,
      updated_at: at,
      sent_at: at,
      priority: 0,
      route: 'bench',
      receiver: 'user:bench@example.com',
      silence_id: null,
    });
    const incident = (id) => ({ id, severity: 'P1', title: 'Checkout failing on every payment provider in the eu-west region' });
    const rows = [];
    for (let i = 0; i < calls; i++) {
      const id = randomUUID();
      const twiml = voiceTwiml(
        incident(id),
        `https://incidents.example.com/v1/integrations/twilio/voice/gather?delivery=${randomUUID()}&user=${randomUUID()}&incident=${id}`,
      );
      const at = new Date(now - 6 * 86_400_000 + i * 50).toISOString();
      rows.push({
        ...row(
          i,
          'voice',
          JSON.stringify({
            To: phone,
            From: '+15005550006',
            Twiml: twiml,
            StatusCallback: 'https://x/s',
            Timeout: '30',
            MachineDetection: 'Enable',
            incidents: [id],
          }),
          at,
        ),
        incident_id: id,
      });
    }
    for (let i = 0; i < 2016; i++) {
      const id = randomUUID();
      const at = new Date(now - 7 * 86_400_000 + 60_000 + i * 300_000).toISOString();
      // Every text a folded one naming ten incidents: the payloads a reply must read.
      const named = [id, ...Array.from({ length: 9 }, () => randomUUID())];
      const items = named.map((n) => ({ id: n, severity: 'P1', title: incident(n).title }));
      const payload = { To: phone, From: '+15005550006', Body: smsBody(incident(id), { ack: 'ACK', resolve: 'RES' }), items, total: 40, incidents: named };
      rows.push({ ...row(i, 'sms', JSON.stringify(payload), at), action: 'digest', incident_id: id });
    }
    for (let i = 0; i < rows.length; i += 500)
      await db
        .insertInto('notification_deliveries')
        .values(rows.slice(i, i + 500))
        .execute();
    const replies = new PhoneReplies(new PhoneDeliveryRepository(db), null, null, null, { now: () => new Date(now) });
    let found = 0;
    const runs = [];
    for (let i = 0; i < reps + 2; i++) {
      const started = process.hrtime.bigint();
      found = (await replies.incidentsPagedTo(phone)).size;
      if (i >= 2) runs.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    runs.sort((a, b) => a - b);
    console.log(
      `incidentsPagedTo over ${calls} calls + 2016 texts to one phone (${found} incidents): median ${runs[Math.floor(runs.length / 2)].toFixed(1)} ms, max ${runs.at(-1).toFixed(1)} ms`,
    );
  } finally {
    await close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
