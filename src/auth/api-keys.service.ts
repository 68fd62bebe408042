import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Clock } from '../common/clock';
import { DomainError, ErrorCode, ValidationFailed } from '../common/domain-error';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { generateApiKey, hashSecret, isScope, parseApiKey, Scope, SCOPES, secretMatches } from './api-key-format';
import { ApiKeyRecord, ApiKeyRepository, KeyOwner } from './api-key.repository';

type KeyWithOwner = ApiKeyRecord & { owner: KeyOwner | null };
import type { Principal } from './request-principal';

/** A key as shown to users: everything but the secret and its hash. */
export type ApiKeyView = Omit<ApiKeyRecord, 'secret_hash'> & { status: 'active' | 'expired' | 'revoked' };

export interface NewApiKey {
  name: string;
  scopes: readonly string[];
  expires_at?: string;
  /** The user the key belongs to. */
  user_id?: string;
}

/** Why a presented credential was refused: logged (never the credential itself), and answered as 401. */
export class AuthenticationFailed extends DomainError {
  constructor(
    readonly reason: 'missing' | 'malformed' | 'unknown' | 'wrong secret' | 'revoked' | 'expired' | 'user deactivated',
    readonly keyId?: string,
  ) {
    super(ErrorCode.UNAUTHENTICATED, reason === 'missing' ? 'an API key is required: Authorization: Bearer <key>' : 'the API key is not valid');
  }
}

/** last_used_at is written at most this often per key and instance: it is accurate to a minute. */
const TOUCH_INTERVAL_MS = 60_000;

@Injectable()
export class ApiKeysService implements OnApplicationBootstrap {
  private readonly logger = new Logger('ApiKeys');
  /** What this instance read about each key id, and when; an absent key is cached too. */
  private readonly cache = new Map<string, { record: KeyWithOwner | undefined; readAt: number }>();
  private readonly touchedAt = new Map<string, number>();

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly keys: ApiKeyRepository,
    private readonly clock: Clock,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.auth.enabled) {
      this.logger.warn({ msg: 'authentication is OFF ([auth] enabled = false): anyone who can reach the ports can read and change every incident' });
      return;
    }
    const bootstrapKey = this.config.secrets.bootstrap_api_key;
    if (bootstrapKey) {
      await this.adoptBootstrapKey(bootstrapKey);
      return;
    }
    if ((await this.keys.count()) > 0) return;
    const { key } = await this.create({ name: 'initial-admin', scopes: ['admin'] }, 'first start');
    // Shown once, on purpose: the store keeps only its hash.
    this.logger.warn({
      msg: `No API key existed, so an admin key was created. It is shown only this once; store it now, then create narrower keys with it (see docs/security.md): ${key}`,
      api_key_name: 'initial-admin',
    });
  }

  /** `requestId`: of the REST request that asks, for the log line (the CLI has none). */
  async create(input: NewApiKey, createdBy: string, requestId?: string): Promise<{ key: string; view: ApiKeyView }> {
    const fields = checkNewKey(input, this.clock.now());
    if (input.user_id !== undefined && !(await this.keys.userIsActive(input.user_id)))
      throw new ValidationFailed([{ field: 'user_id', message: `no active user ${input.user_id}` }]);
    const { id, secret, key } = generateApiKey();
    const record: ApiKeyRecord = {
      id,
      name: fields.name,
      scopes: fields.scopes,
      secret_hash: hashSecret(secret),
      created_at: this.clock.now().toISOString(),
      created_by: createdBy,
      last_used_at: null,
      expires_at: fields.expires_at ?? null,
      revoked_at: null,
      user_id: input.user_id ?? null,
    };
    await this.keys.insert(record);
    this.logger.log({ msg: 'API key created', key_id: id, api_key_name: record.name, scopes: record.scopes, created_by: createdBy, request_id: requestId });
    return { key, view: this.view(record) };
  }

  async list(): Promise<ApiKeyView[]> {
    return (await this.keys.list()).map((k) => this.view(k));
  }

  async revoke(id: string, by: string, requestId?: string): Promise<ApiKeyView> {
    if (!(await this.keys.revoke(id, this.clock.now().toISOString()))) throw new DomainError(ErrorCode.API_KEY_NOT_FOUND, `no API key with id ${id}`, { id });
    // Other instances drop it when their cache entry ages out (auth.key_cache_secs).
    this.cache.delete(id);
    this.logger.log({ msg: 'API key revoked', key_id: id, revoked_by: by, request_id: requestId });
    return this.view((await this.keys.find(id))!);
  }

  /** The principal a presented `Authorization` value stands for, or AuthenticationFailed. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw new AuthenticationFailed('missing');
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    const parsed = match ? parseApiKey(match[1]) : undefined;
    if (!parsed) throw new AuthenticationFailed('malformed');
    const record = await this.lookup(parsed.id);
    if (!record) throw new AuthenticationFailed('unknown', parsed.id);
    if (!secretMatches(parsed.secret, record.secret_hash)) throw new AuthenticationFailed('wrong secret', parsed.id);
    return this.principalOfRecord(record);
  }

  /**
   * The principal of a key already proven (a console session holds its id, not its secret), as
   * long as the key is still usable; a revoked or expired key ends its sessions too.
   */
  async principalOfId(id: string): Promise<Principal & { expiresAt: string | null }> {
    const record = await this.lookup(id);
    if (!record) throw new AuthenticationFailed('unknown', id);
    return this.principalOfRecord(record);
  }

  private principalOfRecord(record: KeyWithOwner): Principal & { expiresAt: string | null } {
    if (record.revoked_at !== null) throw new AuthenticationFailed('revoked', record.id);
    // A deactivated user's keys stop with them (their console sessions too).
    if (record.owner && !record.owner.active) throw new AuthenticationFailed('user deactivated', record.id);
    const now = this.clock.now();
    if (record.expires_at !== null && Date.parse(record.expires_at) <= now.getTime()) throw new AuthenticationFailed('expired', record.id);
    this.noteUse(record.id, now);
    const user = record.owner ? { id: record.owner.id, name: record.owner.name } : null;
    return { keyId: record.id, name: record.name, scopes: record.scopes, user, expiresAt: record.expires_at };
  }

  /** Whether the key still works (exists, not revoked, not expired), as cached for key_cache_secs. */
  async isUsable(id: string): Promise<boolean> {
    const record = await this.lookup(id);
    return (
      record !== undefined &&
      record.revoked_at === null &&
      record.owner?.active !== false &&
      (record.expires_at === null || Date.parse(record.expires_at) > this.clock.now().getTime())
    );
  }

  private async lookup(id: string): Promise<KeyWithOwner | undefined> {
    const ttl = this.config.auth.key_cache_secs * 1000;
    const cached = this.cache.get(id);
    const now = Date.now();
    if (cached && now - cached.readAt < ttl) return cached.record;
    const record = await this.keys.findWithOwner(id);
    if (ttl > 0) {
      // Bounded: a flood of made-up ids must not grow the map without end.
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(id, { record, readAt: now });
    }
    return record;
  }

  private noteUse(id: string, now: Date): void {
    const last = this.touchedAt.get(id);
    if (last !== undefined && now.getTime() - last < TOUCH_INTERVAL_MS) return;
    this.touchedAt.set(id, now.getTime());
    this.keys.touch(id, now.toISOString()).catch((err: unknown) => this.logger.warn({ msg: 'could not record last_used_at', key_id: id, err: String(err) }));
  }

  private async adoptBootstrapKey(key: string): Promise<void> {
    const parsed = parseApiKey(key)!; // the config loader has checked its form
    const existing = await this.keys.find(parsed.id);
    if (existing) {
      if (!secretMatches(parsed.secret, existing.secret_hash)) {
        this.logger.warn({
          msg: `the key in ${this.config.auth.bootstrap_key_env} has the id of a stored key but not its secret; it was not adopted`,
          key_id: parsed.id,
        });
      }
      return; // revoked stays revoked: a bootstrap variable left behind must not bring a key back
    }
    // Instances starting together on one empty store (compose) each find nothing: the first insert wins.
    const inserted = await this.keys.insertIfAbsent({
      id: parsed.id,
      name: 'bootstrap',
      scopes: ['admin'],
      secret_hash: hashSecret(parsed.secret),
      created_at: this.clock.now().toISOString(),
      created_by: this.config.auth.bootstrap_key_env,
      last_used_at: null,
      expires_at: null,
      revoked_at: null,
      user_id: null,
    });
    if (inserted) this.logger.log({ msg: `admin key "bootstrap" created from ${this.config.auth.bootstrap_key_env}`, key_id: parsed.id });
  }

  private view(record: ApiKeyRecord): ApiKeyView {
    const { secret_hash: _hash, ...rest } = record;
    const expired = record.expires_at !== null && Date.parse(record.expires_at) <= this.clock.now().getTime();
    return { ...rest, status: record.revoked_at !== null ? 'revoked' : expired ? 'expired' : 'active' };
  }
}

function checkNewKey(input: NewApiKey, now: Date): { name: string; scopes: Scope[]; expires_at?: string } {
  const issues: { field: string; message: string }[] = [];
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (name.length === 0 || name.length > 100) issues.push({ field: 'name', message: 'must be 1 to 100 characters' });
  const scopes = Array.isArray(input.scopes) ? input.scopes : [];
  if (scopes.length === 0) issues.push({ field: 'scopes', message: `must name at least one scope of ${SCOPES.join(', ')}` });
  scopes.forEach((s, i) => {
    if (typeof s !== 'string' || !isScope(s)) issues.push({ field: `scopes[${i}]`, message: `must be one of ${SCOPES.join(', ')}` });
  });
  let expiresAt: string | undefined;
  if (input.expires_at !== undefined) {
    const t = typeof input.expires_at === 'string' ? Date.parse(input.expires_at) : NaN;
    if (Number.isNaN(t)) issues.push({ field: 'expires_at', message: 'must be an ISO-8601 date-time' });
    else if (t <= now.getTime()) issues.push({ field: 'expires_at', message: 'must be in the future' });
    else expiresAt = new Date(t).toISOString();
  }
  if (issues.length > 0) throw new ValidationFailed(issues);
  return { name, scopes: [...new Set(scopes as Scope[])], ...(expiresAt ? { expires_at: expiresAt } : {}) };
}
