/**
 * Slack: the Block Kit incident message for a new P0, a custom message, and the resolution.
 * With SLACK_BOT_TOKEN set it posts through chat.postMessage to SLACK_CHANNEL (default
 * #incidents), keeps the incident in one thread and edits the first message on resolution; with
 * SLACK_WEBHOOK_URL it posts to that incoming webhook. With neither, a local stand-in that
 * enforces Slack's limits prints what Slack would receive.
 *
 *   npm run example examples/notifications/slack_example.ts
 */
import { slackWebhookFake } from '../../test/support/fakes';
import { alert, printLog, resolution, startService } from './support';

async function main(): Promise<void> {
  const standIn = await slackWebhookFake();
  const real = Boolean(process.env.SLACK_BOT_TOKEN || process.env.SLACK_WEBHOOK_URL);
  const env = real ? process.env : { ...process.env, EXAMPLE_SLACK_WEBHOOK: `${standIn.url}/services/T000/B000/example` };
  const service = await startService(
    {
      slack_enabled: true,
      slack_webhook_env: real ? 'SLACK_WEBHOOK_URL' : 'EXAMPLE_SLACK_WEBHOOK',
      slack_bot_token_env: real ? 'SLACK_BOT_TOKEN' : 'EXAMPLE_NO_TOKEN',
      slack_default_channel: process.env.SLACK_CHANNEL ?? '#incidents',
    },
    env,
  );
  try {
    const { incident_id } = await service.post('/v1/alerts', alert());
    await service.post(`/v1/incidents/${incident_id}/notifications`, {
      message: '🚨 Security incident detected!',
      channels: [{ type: 'slack', channel: process.env.SLACK_CHANNEL ?? '#incidents' }],
    });
    await service.post(`/v1/incidents/${incident_id}/resolve`, resolution);
    const log = await service.deliveries(incident_id, 3);
    for (const r of standIn.received) console.log(`\n${r.body.text}\n${JSON.stringify(r.body.attachments[0], null, 2)}`);
    printLog(log);
  } finally {
    await service.stop();
    await standIn.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
