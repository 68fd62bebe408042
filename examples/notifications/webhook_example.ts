/**
 * Webhooks: the default payload (event_type, timestamp, incident, notification_id) for lifecycle events, and a custom payload sent to a
 * URL of your choice, each signed per Standard Webhooks and verified here as a receiver would.
 * Sends to WEBHOOK_URL when it is set, otherwise to a local receiver that prints what it gets.
 * The signing secrets come from WEBHOOK_SIGNING_SECRETS (whsec_<base64>); without it the example
 * makes one up.
 *
 *   npm run example examples/notifications/webhook_example.ts
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { webhookSink } from '../../test/support/fakes';
import { alert, printLog, resolution, startService } from './support';

async function main(): Promise<void> {
  const receiver = await webhookSink();
  const target = process.env.WEBHOOK_URL ?? `${receiver.url}/webhook`;
  const secret = process.env.WEBHOOK_SIGNING_SECRETS?.split(/[\s,]+/)[0] || `whsec_${randomBytes(32).toString('base64')}`;
  const service = await startService(
    { webhook_enabled: true, default_webhook_url: target, webhook_timeout_secs: 10 },
    // The custom URL below is the local receiver: loopback is refused for URLs from API requests unless allowed.
    { ...process.env, WEBHOOK_SIGNING_SECRETS: process.env.WEBHOOK_SIGNING_SECRETS || secret, LLM_IM__OUTBOUND__ALLOW_CIDRS: '127.0.0.1/32' },
  );
  try {
    const { incident_id } = await service.post('/v1/alerts', alert());
    await service.post(`/v1/incidents/${incident_id}/transition`, { state: 'Investigating', actor: 'alice' });
    await service.post(`/v1/incidents/${incident_id}/notifications`, {
      message: 'Custom notification',
      channels: [{ type: 'webhook', url: `${receiver.url}/custom`, payload: { custom_field: 'custom_value', incident_id } }],
    });
    await service.post(`/v1/incidents/${incident_id}/resolve`, resolution);
    const log = await service.deliveries(incident_id, 4);
    const verifier = new Webhook(secret);
    for (const r of receiver.received) {
      // Throws unless the signature matches these exact bytes and the timestamp is recent.
      verifier.verify(r.raw, r.headers as Record<string, string>);
      console.log(`\nPOST ${r.path} (webhook-id ${String(r.headers['webhook-id'])}, signature verified)\n${JSON.stringify(r.body, null, 2)}`);
    }
    printLog(log);
  } finally {
    await service.stop();
    await receiver.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
