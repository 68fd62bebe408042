import { Inject, Injectable } from '@nestjs/common';
import { Kysely, sql } from 'kysely';
import type { Database, Dialect } from './schema';
import { DATABASE, DIALECT } from './tokens';

@Injectable()
export class DatabaseHealth {
  constructor(
    @Inject(DATABASE) private readonly db: Kysely<Database>,
    @Inject(DIALECT) readonly dialect: Dialect,
  ) {}

  /** Round-trips a query; resolves with the error message if the store does not answer. */
  async check(timeoutMs = 2000): Promise<{ ok: true } | { ok: false; error: string }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        sql`select 1`.execute(this.db),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return { ok: true };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }
}
