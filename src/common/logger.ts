import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';
import pretty from 'pino-pretty';

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * JSON lines for pipes, containers and CI (what log shippers read); readable lines in a
 * terminal. LOG_FORMAT, when set, wins over the guess (checked with the config, see config.loader).
 */
export function logFormatOf(env: Record<string, string | undefined>, stdoutIsTTY: boolean): LogFormat {
  const given = env.LOG_FORMAT;
  if (given === 'json' || given === 'pretty') return given;
  return stdoutIsTTY ? 'pretty' : 'json';
}

/**
 * Nest's logger on pino: one JSON object per line, or pino-pretty's lines in a terminal. Fields
 * that could carry secrets are redacted wherever they appear, in both formats.
 */
export class AppLogger implements LoggerService {
  private readonly pino: Logger;

  constructor(
    level = process.env.LOG_LEVEL ?? 'info',
    destination?: pino.DestinationStream,
    format: LogFormat = logFormatOf(process.env, process.stdout.isTTY === true),
  ) {
    // pino-pretty in this thread, synchronously: no worker for a terminal, and nothing lost on exit.
    const target =
      format === 'pretty'
        ? pretty({ sync: true, destination: destination ?? 1, colorize: destination === undefined && process.stdout.isTTY === true })
        : destination;
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
      target,
    );
  }

  /**
   * The access log's writer: the same stream, format and redaction, with its own level, so that
   * its lines are written (or not, see [server] access_log) whatever LOG_LEVEL says.
   */
  accessLogger(): Logger {
    return this.pino.child({ context: 'Access' }, { level: 'info' });
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
