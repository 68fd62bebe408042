/**
 * Webhooks: the guide's default payload for lifecycle events, and a custom payload sent to a
 * URL of your choice. Sends to WEBHOOK_URL when it is set, otherwise to a local receiver that
 * prints what it gets.
 *
 *   npm run example examples/notifications/webhook_example.ts
 */
import { webhookSink } from '../../test/support/fakes';
import { alert, printLog, resolution, startService } from './support';

async function main(): Promise<void> {
  const receiver = await webhookSink();
  const target = process.env.WEBHOOK_URL ?? `${receiver.url}/webhook`;
  const service = await startService({ webhook_enabled: true, default_webhook_url: target, webhook_timeout_secs: 10 });
  try {
    const { incident_id } = await service.post('/v1/alerts', alert());
    await service.post(`/v1/incidents/${incident_id}/transition`, { state: 'Investigating', actor: 'alice' });
    await service.post(`/v1/incidents/${incident_id}/notifications`, {
      message: 'Custom notification',
      channels: [{ type: 'webhook', url: `${receiver.url}/custom`, payload: { custom_field: 'custom_value', incident_id } }],
    });
    await service.post(`/v1/incidents/${incident_id}/resolve`, resolution);
    const log = await service.deliveries(incident_id, 4);
    for (const r of receiver.received) console.log(`\nPOST ${r.path}\n${JSON.stringify(r.body, null, 2)}`);
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
