import { Injectable, Logger } from '@nestjs/common';
import nodemailer, { Transporter } from 'nodemailer';
import { InjectConfig } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schema';
import { delivered, OutboundMessage, permanent, retry, SendOutcome } from '../../notification';
import type { EmailMessage } from './email.render';
import { ChannelProvider, ChannelReadiness } from '../channel-provider';

/**
 * Email over SMTP with nodemailer. `smtp_port` is always honoured; with `smtp_use_tls` port 465
 * means implicit TLS and any other port requires STARTTLS (the send fails rather than go out in
 * clear text). 4xx replies and lost connections are retried, 5xx replies are not.
 */
@Injectable()
export class EmailProvider implements ChannelProvider {
  readonly channel = 'email' as const;
  private readonly logger = new Logger('Notifications');
  private transport?: Transporter;

  constructor(@InjectConfig() private readonly config: AppConfig) {}

  readiness(): ChannelReadiness {
    const n = this.config.notifications;
    const { smtp_username, smtp_password } = this.config.secrets;
    let problem: string | null = null;
    if (n.smtp_server.trim() === '') problem = 'notifications.smtp_server is empty';
    else if (Boolean(smtp_username) !== Boolean(smtp_password)) {
      problem = `environment variable ${smtp_username ? n.smtp_password_env : n.smtp_username_env} is not set`;
    }
    return { enabled: n.email_enabled, configured: problem === null, problem };
  }

  async send(message: OutboundMessage): Promise<SendOutcome> {
    const problem = this.readiness().problem;
    if (problem) return permanent(problem);
    const email = JSON.parse(message.payload) as EmailMessage;
    if (email.to.length === 0) return permanent('the email has no recipients');
    const n = this.config.notifications;
    try {
      const info = await this.transporter().sendMail({
        from: { name: n.email_from_name, address: n.email_from },
        to: email.to,
        subject: email.subject,
        text: email.text,
        html: email.html,
      });
      // Accepted for some recipients: retrying would mail the others again, so it counts as
      // delivered and the refused addresses are logged. (All refused is an error.)
      const rejected = ((info.rejected ?? []) as Array<string | { address: string }>).map((r) => (typeof r === 'string' ? r : r.address));
      if (rejected.length > 0) this.logger.warn({ msg: 'Email refused for some recipients', notification_id: message.id, rejected });
      return delivered();
    } catch (err) {
      return judgeSmtpError(err as SmtpError);
    }
  }

  close(): void {
    this.transport?.close();
  }

  private transporter(): Transporter {
    if (this.transport) return this.transport;
    const n = this.config.notifications;
    const { smtp_username, smtp_password } = this.config.secrets;
    const implicitTls = n.smtp_use_tls && n.smtp_port === 465;
    const timeout = n.delivery_timeout_secs * 1000;
    this.transport = nodemailer.createTransport({
      host: n.smtp_server,
      port: n.smtp_port,
      secure: implicitTls,
      requireTLS: n.smtp_use_tls && !implicitTls,
      ignoreTLS: !n.smtp_use_tls,
      auth: smtp_username && smtp_password ? { user: smtp_username, pass: smtp_password } : undefined,
      tls: { rejectUnauthorized: n.smtp_tls_verify },
      pool: true,
      maxConnections: Math.min(n.worker_threads, 8),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
    return this.transport;
  }
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
}

function judgeSmtpError(err: SmtpError): SendOutcome {
  const reply = err.response ? `: ${err.response.slice(0, 200)}` : '';
  if (typeof err.responseCode === 'number') {
    const error = `SMTP server replied ${err.responseCode}${reply}`;
    return err.responseCode >= 500 ? permanent(error) : retry(error);
  }
  // The server cannot do STARTTLS although TLS is required: a configuration problem.
  if (err.code === 'ETLS') return permanent(`TLS is required but failed: ${err.message}`);
  return retry(`SMTP ${err.code ?? 'error'}: ${err.message}`);
}
