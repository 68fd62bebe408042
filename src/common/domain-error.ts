/**
 * Errors the domain raises. They carry a code, never a transport status: the HTTP filter (and
 * the gRPC one) map codes to statuses in one place.
 */
export const ErrorCode = {
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  MALFORMED_JSON: 'MALFORMED_JSON',
  INCIDENT_NOT_FOUND: 'INCIDENT_NOT_FOUND',
  INVALID_TRANSITION: 'INVALID_TRANSITION',
  ALREADY_RESOLVED: 'ALREADY_RESOLVED',
  DUPLICATE_INCIDENT: 'DUPLICATE_INCIDENT',
  OVERLOADED: 'OVERLOADED',
  NOTIFICATION_NOT_FOUND: 'NOTIFICATION_NOT_FOUND',
  NOT_RETRYABLE: 'NOT_RETRYABLE',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  /** A write through a console session without its CSRF token (header x-csrf-token). */
  CSRF_REJECTED: 'CSRF_REJECTED',
  /** Over a per-key limit; details.retry_after_secs says when to try again. */
  RATE_LIMITED: 'RATE_LIMITED',
  API_KEY_NOT_FOUND: 'API_KEY_NOT_FOUND',
  ALREADY_ACKNOWLEDGED: 'ALREADY_ACKNOWLEDGED',
  SILENCE_NOT_FOUND: 'SILENCE_NOT_FOUND',
  USER_NOT_FOUND: 'USER_NOT_FOUND',
  TEAM_NOT_FOUND: 'TEAM_NOT_FOUND',
  SCHEDULE_NOT_FOUND: 'SCHEDULE_NOT_FOUND',
  OVERRIDE_NOT_FOUND: 'OVERRIDE_NOT_FOUND',
  /** A user's email, a team's or a schedule's name that another already has. */
  NAME_TAKEN: 'NAME_TAKEN',
  /** A reloaded configuration that does not validate: the running one stays. */
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** A feature whose configuration is missing (Slack interactivity without a signing secret). */
  NOT_CONFIGURED: 'NOT_CONFIGURED',
  /** An acknowledgement link this service did not make, or whose incident or user is unknown. */
  LINK_NOT_VALID: 'LINK_NOT_VALID',
  /** An acknowledgement link that expired or was already used. */
  LINK_GONE: 'LINK_GONE',
  /** The store cannot be reached (PostgreSQL down, a connection cut, an I/O error): retry later. */
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  /** The store has no room to write (disk full): retry once space is freed. */
  STORE_FULL: 'STORE_FULL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** One offending input field: `field` is a path such as `severity`, `[3].title` or `labels.team`. */
export interface FieldIssue {
  field: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class ValidationFailed extends DomainError {
  readonly issues: FieldIssue[];
  constructor(issues: FieldIssue[], message = 'request validation failed') {
    super(ErrorCode.VALIDATION_FAILED, `${message}: ${issues.map((i) => i.field).join(', ')}`, { fields: issues });
    this.issues = issues;
  }
}
