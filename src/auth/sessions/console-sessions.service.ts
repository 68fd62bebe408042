import { Injectable, Logger } from '@nestjs/common';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schema';
import { ApiKeysService, AuthenticationFailed } from '../api-keys.service';
import type { Principal } from '../request-principal';
import { ConsoleSessionRecord, ConsoleSessionRepository } from './console-session.repository';

/** What the console learns about its own session: never the token (it is in an HttpOnly cookie). */
export interface SessionView {
  key_id: string;
  key_name: string;
  /** The name of the user the key belongs to: the console shows who is signed in. */
  user_name: string | null;
  scopes: readonly string[];
  created_at: string;
  expires_at: string;
  /** Sent back in the x-csrf-token header of every write made through this session. */
  csrf_token: string;
}

/** A session's principal: the key it was opened with, and the session itself. */
export interface SessionPrincipal extends Principal {
  sessionId: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Console sign-in: an API key, presented once, is exchanged for a session whose random token
 * lives only in an HttpOnly cookie. The store keeps the token's SHA-256, never the token; the CSRF
 * token is an HMAC of the session token, so it needs no storage and is useless without the cookie.
 * A session acts with its key's scopes, and stops working when the key is revoked or expires.
 */
@Injectable()
export class ConsoleSessionsService {
  private readonly logger = new Logger('ConsoleSessions');
  /** What this instance read about each session, for auth.key_cache_secs (as for keys). */
  private readonly cache = new Map<string, { record: ConsoleSessionRecord | undefined; readAt: number }>();

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly sessions: ConsoleSessionRepository,
    private readonly keys: ApiKeysService,
    private readonly clock: Clock,
  ) {}

  /** Signs in with an API key: the new session's cookie token and what the console may know of it. */
  async signIn(apiKey: unknown, remember = false): Promise<{ token: string; view: SessionView; maxAgeSecs: number }> {
    if (!this.config.console.enabled) throw new DomainError(ErrorCode.NOT_CONFIGURED, 'the console is off ([console] enabled = false)');
    if (!this.config.auth.enabled) throw new DomainError(ErrorCode.FORBIDDEN, 'console sign-in needs authentication on ([auth] enabled = true)');
    const principal = await this.keys.authenticate(typeof apiKey === 'string' ? `Bearer ${apiKey}` : undefined);
    const key = await this.keys.principalOfId(principal.keyId);
    const now = this.clock.now();
    // Remembered on this device: longer, still ended by signing out or revoking the key.
    const ttlSecs = remember ? this.config.console.remember_ttl_secs : this.config.console.session_ttl_secs;
    let expires = now.getTime() + ttlSecs * 1000;
    if (key.expiresAt !== null) expires = Math.min(expires, Date.parse(key.expiresAt));
    const token = randomBytes(32).toString('base64url');
    const record: ConsoleSessionRecord = {
      id: idOf(token),
      key_id: key.keyId,
      created_at: now.toISOString(),
      expires_at: new Date(expires).toISOString(),
      ended_at: null,
    };
    // Sign-ins are rare: a good moment to forget sessions that expired a day ago or more.
    await this.sessions.deleteExpired(new Date(now.getTime() - 86_400_000).toISOString());
    await this.sessions.insert(record);
    this.logger.log({ msg: 'console session started', key_id: key.keyId, api_key_name: key.name, expires_at: record.expires_at, remembered: remember });
    return { token, view: this.view(token, record, key), maxAgeSecs: Math.max(1, Math.floor((expires - now.getTime()) / 1000)) };
  }

  /** The session a cookie token stands for, as the console sees it (after a reload). */
  async describe(token: string): Promise<SessionView> {
    const { record, principal } = await this.live(token);
    return this.view(token, record, principal);
  }

  /** Ends the session on the server: its cookie stops working everywhere (other instances within key_cache_secs). */
  async signOut(token: string): Promise<void> {
    const id = idOf(token);
    this.cache.delete(id);
    if (await this.sessions.end(id, this.clock.now().toISOString())) this.logger.log({ msg: 'console session ended', session: id.slice(0, 12) });
  }

  /**
   * The principal of a request made with a session cookie. Writes must also carry the session's
   * CSRF token: a cookie alone is what a forged cross-site request would have.
   */
  async authenticate(token: string, method: string, csrfHeader: string | string[] | undefined): Promise<SessionPrincipal> {
    const { record, principal } = await this.live(token);
    if (!SAFE_METHODS.has(method.toUpperCase())) {
      const presented = typeof csrfHeader === 'string' ? Buffer.from(csrfHeader) : Buffer.alloc(0);
      const expected = Buffer.from(csrfTokenOf(token));
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
        throw new DomainError(ErrorCode.CSRF_REJECTED, 'a write through a console session needs its CSRF token in the x-csrf-token header');
      }
    }
    return { keyId: principal.keyId, name: principal.name, scopes: principal.scopes, user: principal.user ?? null, sessionId: record.id };
  }

  /** Whether a session (by id) still works: for streams, which outlive the check made when they opened. */
  async isLive(sessionId: string): Promise<boolean> {
    const record = await this.lookup(sessionId);
    if (!usable(record, this.clock.now())) return false;
    return this.keys.isUsable(record!.key_id);
  }

  private async live(token: string): Promise<{ record: ConsoleSessionRecord; principal: Principal }> {
    const record = await this.lookup(idOf(token));
    if (!record) throw new SessionRefused('unknown');
    if (record.ended_at !== null) throw new SessionRefused('signed out');
    if (!usable(record, this.clock.now())) throw new SessionRefused('expired');
    return { record, principal: await this.keys.principalOfId(record.key_id) };
  }

  private async lookup(id: string): Promise<ConsoleSessionRecord | undefined> {
    const ttl = this.config.auth.key_cache_secs * 1000;
    const cached = this.cache.get(id);
    const now = Date.now();
    if (cached && now - cached.readAt < ttl) return cached.record;
    const record = await this.sessions.find(id);
    if (ttl > 0) {
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(id, { record, readAt: now });
    }
    return record;
  }

  private view(token: string, record: ConsoleSessionRecord, principal: Principal): SessionView {
    return {
      key_id: principal.keyId,
      key_name: principal.name,
      user_name: principal.user?.name ?? null,
      scopes: principal.scopes,
      created_at: record.created_at,
      expires_at: record.expires_at,
      csrf_token: csrfTokenOf(token),
    };
  }
}

/** A session cookie that no longer (or never did) stand for a session: 401, as for a bad key. */
export class SessionRefused extends AuthenticationFailed {
  constructor(readonly why: 'unknown' | 'signed out' | 'expired') {
    super(why === 'expired' ? 'expired' : why === 'signed out' ? 'revoked' : 'unknown');
    this.message = `the console session is not valid (${why}); sign in again`;
  }
}

function usable(record: ConsoleSessionRecord | undefined, now: Date): boolean {
  return record !== undefined && record.ended_at === null && Date.parse(record.expires_at) > now.getTime();
}

function idOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function csrfTokenOf(token: string): string {
  return createHmac('sha256', token).update('llm-im console csrf').digest('base64url');
}
