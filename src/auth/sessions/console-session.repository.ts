import { Inject, Injectable } from '@nestjs/common';
import type { Kysely, Selectable } from 'kysely';
import { DATABASE } from '../../database/tokens';
import type { ConsoleSessionRow, Database } from '../../database/schema';

export type ConsoleSessionRecord = Selectable<ConsoleSessionRow>;

@Injectable()
export class ConsoleSessionRepository {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  async insert(session: ConsoleSessionRecord): Promise<void> {
    await this.db.insertInto('console_sessions').values(session).execute();
  }

  async find(id: string): Promise<ConsoleSessionRecord | undefined> {
    return this.db.selectFrom('console_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Ends a session that has not ended yet; false when there was none to end. */
  async end(id: string, at: string): Promise<boolean> {
    const result = await this.db.updateTable('console_sessions').set({ ended_at: at }).where('id', '=', id).where('ended_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Forgets sessions that expired before `before` (they can no longer be used anyway). */
  async deleteExpired(before: string): Promise<void> {
    await this.db.deleteFrom('console_sessions').where('expires_at', '<', before).execute();
  }
}
