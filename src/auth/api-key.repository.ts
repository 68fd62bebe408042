import { Inject, Injectable } from '@nestjs/common';
import type { Kysely, Selectable } from 'kysely';
import { DATABASE } from '../database/tokens';
import type { ApiKeyRow, Database } from '../database/schema';
import type { Scope } from './api-key-format';

/** An API key as stored (never its secret, only the secret's hash), with its scopes parsed. */
export type ApiKeyRecord = Omit<Selectable<ApiKeyRow>, 'scopes'> & { scopes: Scope[] };

/** The user a key belongs to, as its requests are recorded: their name, and whether they are still active. */
export interface KeyOwner {
  id: string;
  name: string;
  active: boolean;
}

function toRecord(row: Selectable<ApiKeyRow>): ApiKeyRecord {
  return { ...row, scopes: JSON.parse(row.scopes) as Scope[] };
}

@Injectable()
export class ApiKeyRepository {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  async insert(key: ApiKeyRecord): Promise<void> {
    await this.db
      .insertInto('api_keys')
      .values({ ...key, scopes: JSON.stringify(key.scopes) })
      .execute();
  }

  /** Inserts the key unless one with its id is stored already (another instance was first); whether it did. */
  async insertIfAbsent(key: ApiKeyRecord): Promise<boolean> {
    const result = await this.db
      .insertInto('api_keys')
      .values({ ...key, scopes: JSON.stringify(key.scopes) })
      .onConflict((conflict) => conflict.column('id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** The key's user, read with the key: a rename or deactivation shows once the key's cache entry ages out. */
  async findWithOwner(id: string): Promise<(ApiKeyRecord & { owner: KeyOwner | null }) | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .leftJoin('users', 'users.id', 'api_keys.user_id')
      .selectAll('api_keys')
      .select(['users.name as owner_name', 'users.deactivated_at as owner_deactivated_at'])
      .where('api_keys.id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const { owner_name, owner_deactivated_at, ...key } = row;
    const owner = key.user_id && owner_name !== null ? { id: key.user_id, name: owner_name, active: owner_deactivated_at === null } : null;
    return { ...toRecord(key), owner };
  }

  /** Whether a user exists and is active: a key may be given only to such a user. */
  async userIsActive(userId: string): Promise<boolean> {
    const row = await this.db.selectFrom('users').select('deactivated_at').where('id', '=', userId).executeTakeFirst();
    return row !== undefined && row.deactivated_at === null;
  }

  async find(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  async list(): Promise<ApiKeyRecord[]> {
    const rows = await this.db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toRecord);
  }

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Sets revoked_at unless already revoked; false when there is no such key. */
  async revoke(id: string, at: string): Promise<boolean> {
    const key = await this.find(id);
    if (!key) return false;
    if (key.revoked_at === null) await this.db.updateTable('api_keys').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    return true;
  }

  async touch(id: string, at: string): Promise<void> {
    await this.db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
  }
}
