/**
 * PagerDuty Events API v2: a P2 incident is not paged; raised to P1 it is triggered, moving it
 * to Investigating acknowledges it, and resolving it resolves it (dedup_key = incident id).
 * Uses the real Events API when PAGERDUTY_INTEGRATION_KEY is set, otherwise a local stand-in
 * that enforces the API's rules and prints the events.
 *
 *   npm run example examples/notifications/pagerduty_example.ts
 */
import { PAGERDUTY_KEY, pagerDutyFake } from '../../test/support/fakes';
import { alert, printLog, resolution, startService } from './support';

async function main(): Promise<void> {
  const standIn = await pagerDutyFake();
  const real = Boolean(process.env.PAGERDUTY_INTEGRATION_KEY);
  const service = await startService(
    {
      pagerduty_enabled: true,
      pagerduty_integration_key_env: 'PAGERDUTY_INTEGRATION_KEY',
      pagerduty_api_url: real ? 'https://events.pagerduty.com/v2/enqueue' : `${standIn.url}/v2/enqueue`,
    },
    real ? process.env : { ...process.env, PAGERDUTY_INTEGRATION_KEY: PAGERDUTY_KEY },
  );
  try {
    const { incident_id } = await service.post('/v1/alerts', alert({ severity: 'P2', title: 'Checkout latency above SLO' }));
    await service.post('/v1/alerts', alert({ severity: 'P1', title: 'Checkout latency above SLO' })); // raises it: trigger
    await service.post(`/v1/incidents/${incident_id}/transition`, { state: 'Investigating', actor: 'alice' }); // acknowledge
    await service.post(`/v1/incidents/${incident_id}/resolve`, resolution); // resolve
    const log = await service.deliveries(incident_id, 3);
    for (const r of standIn.received) console.log(JSON.stringify({ ...r.body, routing_key: '…' }, null, 2));
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
