/**
 * Email over SMTP: the HTML and plain-text incident message to several recipients, for a new
 * incident and its resolution, plus a custom email. With SMTP_SERVER set it sends through that
 * server (SMTP_PORT, default 587 with STARTTLS; SMTP_USERNAME / SMTP_PASSWORD; EMAIL_FROM;
 * EMAIL_TO, comma-separated). Otherwise a local SMTP server (STARTTLS and authentication, as a
 * real one would ask) receives the messages and prints them.
 *
 *   npm run example examples/notifications/email_example.ts
 */
import { FakeSmtp } from '../../test/support/fakes';
import { alert, printLog, resolution, startService } from './support';

async function main(): Promise<void> {
  const local = await new FakeSmtp('example-user', 'example-password').listen();
  const real = Boolean(process.env.SMTP_SERVER);
  const recipients = (process.env.EMAIL_TO ?? 'oncall@example.com,sre@example.com').split(',');
  const service = await startService(
    {
      email_enabled: true,
      smtp_server: real ? process.env.SMTP_SERVER : '127.0.0.1',
      smtp_port: real ? Number(process.env.SMTP_PORT ?? 587) : local.port,
      smtp_use_tls: true,
      // The local server's certificate is self-signed.
      smtp_tls_verify: real,
      smtp_username_env: 'SMTP_USERNAME',
      smtp_password_env: 'SMTP_PASSWORD',
      email_from: process.env.EMAIL_FROM ?? 'incidents@example.com',
      email_to: recipients,
    },
    real ? process.env : { ...process.env, SMTP_USERNAME: 'example-user', SMTP_PASSWORD: 'example-password' },
  );
  try {
    const { incident_id } = await service.post('/v1/alerts', alert());
    await service.post(`/v1/incidents/${incident_id}/notifications`, {
      message: 'unused: the email body below is sent instead',
      channels: [{ type: 'email', to: recipients, subject: 'Security Incident Alert', body: 'A security incident has been detected...' }],
    });
    await service.post(`/v1/incidents/${incident_id}/resolve`, resolution);
    const log = await service.deliveries(incident_id, 3);
    for (const m of local.received)
      console.log(
        `\nTo: ${m.envelopeTo.join(', ')}\nSubject: ${m.mail.subject}\n\n${m.mail.text}\n(HTML part: ${m.mail.html ? String(m.mail.html).length : 0} characters)`,
      );
    printLog(log);
  } finally {
    await service.stop();
    await local.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
