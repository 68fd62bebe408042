import { DomainError, ErrorCode } from '../common/domain-error';

/**
 * What kind of store failure an error is:
 * - `unavailable`: the store cannot be reached or answered with a connection-level failure
 *   (PostgreSQL restarted or unreachable, a connection cut, an I/O error on the SQLite file);
 * - `full`: the store has no room to write (SQLITE_FULL, PostgreSQL's 53100 disk_full).
 * Anything else (a constraint, a bug) is not a store fault and stays an internal error.
 */
export type StoreFaultKind = 'unavailable' | 'full';

export interface StoreFault {
  kind: StoreFaultKind;
  /** The store's own words, for the log: "SQLITE_FULL: database or disk is full". */
  cause: string;
}

/** How long a client is told to wait before retrying while the store is down or full. */
export const STORE_RETRY_AFTER_SECS = 5;

/** Socket errors of a connection to PostgreSQL. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/**
 * PostgreSQL SQLSTATEs of a server that is going away or not accepting work: admin_shutdown,
 * crash_shutdown, cannot_connect_now, too_many_connections, and the whole class 08
 * (connection_exception).
 */
const PG_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300']);

/** pg's own messages for a connection that broke or could not be made (they carry no code). */
const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'is not queryable',
  'Connection ended unexpectedly',
  'terminating connection',
];

/** SQLite result codes (better-sqlite3 puts the extended code in `code`). */
const SQLITE_UNAVAILABLE_PREFIXES = ['SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_READONLY'];

export function storeFaultOf(err: unknown): StoreFault | null {
  // Duck-typed, not instanceof Error: errors raised by Node's own sockets come from another
  // realm where the code runs in a VM context (as under Jest).
  const message = (err as { message?: unknown } | null)?.message;
  if (typeof message !== 'string') return null;
  const given = (err as { code?: unknown }).code;
  const code = typeof given === 'string' ? given : '';
  const cause = code ? `${code}: ${message}` : message;
  if (code === 'SQLITE_FULL' || code === '53100') return { kind: 'full', cause };
  if (code.startsWith('SQLITE_')) return SQLITE_UNAVAILABLE_PREFIXES.some((p) => code.startsWith(p)) ? { kind: 'unavailable', cause } : null;
  if (NETWORK_CODES.has(code) || PG_UNAVAILABLE.has(code) || code.startsWith('08')) return { kind: 'unavailable', cause };
  if (code === '' && PG_CONNECTION_MESSAGES.some((m) => message.includes(m))) return { kind: 'unavailable', cause };
  return null;
}

/** A store fault as the domain error clients get: 503 with Retry-After on REST, UNAVAILABLE on gRPC. */
export function storeFaultError(fault: StoreFault): DomainError {
  return fault.kind === 'full'
    ? new DomainError(ErrorCode.STORE_FULL, 'the store has no room to write (disk full); retry later', { retry_after_secs: STORE_RETRY_AFTER_SECS })
    : new DomainError(ErrorCode.STORE_UNAVAILABLE, 'the store is unavailable; retry later', { retry_after_secs: STORE_RETRY_AFTER_SECS });
}

/**
 * Errors the store's connections raised (StoreErrorSink.report marks them). Only these are ever
 * answered as a store fault: a socket error of the client's own request (ECONNRESET on an
 * aborted body) has the same code and is not the store's.
 */
const raisedByStore = new WeakSet<object>();

/** The error as a domain error when it is one, or a fault the store raised; null for anything else. */
export function asDomainError(err: unknown): DomainError | null {
  if (err instanceof DomainError) return err;
  if (typeof err !== 'object' || err === null || !raisedByStore.has(err)) return null;
  const fault = storeFaultOf(err);
  return fault ? storeFaultError(fault) : null;
}

/**
 * Where the store's connections report the errors they see, before anyone decides what to do
 * with them: the store's health listens. Plain (no Nest) because the connections are made
 * before the providers that listen exist.
 */
export class StoreErrorSink {
  private listener: (err: unknown) => void = () => undefined;

  listen(listener: (err: unknown) => void): void {
    this.listener = listener;
  }

  report(err: unknown): void {
    if (typeof err === 'object' && err !== null) raisedByStore.add(err);
    try {
      this.listener(err);
    } catch {
      // a listener's own failure must never turn into the store's
    }
  }
}
