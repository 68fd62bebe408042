import { Inject, Injectable } from '@nestjs/common';
import type { Kysely, Selectable } from 'kysely';
import type { Database, TeamRow, UserRow } from '../database/schema';
import { DATABASE } from '../database/tokens';
import type { NotificationRule, Team, TeamNotify, User } from './person';

function toUser(row: Selectable<UserRow>): User {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    slack_user_id: row.slack_user_id,
    phone: row.phone,
    ntfy_topic: row.ntfy_topic,
    time_zone: row.time_zone,
    notification_rules: JSON.parse(row.notification_rules) as NotificationRule[],
    active: row.deactivated_at === null,
    deactivated_at: row.deactivated_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** Where a read runs: the pool, or a transaction in progress (on SQLite its one connection: a read outside it would wait for it). */
export type Reader = Kysely<Database>;

/** Whether a write failed on a unique key (a name or an email another row has). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Users and teams (with their members, in order). */
@Injectable()
export class PeopleRepository {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  async insertUser(row: UserRow): Promise<User> {
    await this.db.insertInto('users').values(row).execute();
    return toUser(row);
  }

  async updateUser(id: string, changes: Partial<Omit<UserRow, 'id' | 'created_at'>>): Promise<User | null> {
    const row = await this.db.updateTable('users').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async findUser(id: string, db: Reader = this.db): Promise<User | null> {
    const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async findUserByEmail(email: string, db: Reader = this.db): Promise<User | null> {
    const row = await db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async activeUserBySlackId(slackUserId: string): Promise<User | null> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('slack_user_id', '=', slackUserId)
      .where('deactivated_at', 'is', null)
      .orderBy('created_at')
      .executeTakeFirst();
    return row ? toUser(row) : null;
  }

  /** Active users with this phone number (a shared on-call phone may be several people's). */
  async activeUsersByPhone(phone: string): Promise<User[]> {
    const rows = await this.db.selectFrom('users').selectAll().where('phone', '=', phone).where('deactivated_at', 'is', null).orderBy('created_at').execute();
    return rows.map(toUser);
  }

  async findUserByCalendarToken(hash: string): Promise<User | null> {
    const row = await this.db.selectFrom('users').selectAll().where('calendar_token_hash', '=', hash).executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async usersByIds(ids: readonly string[], db: Reader = this.db): Promise<Map<string, User>> {
    if (ids.length === 0) return new Map();
    const rows = await db
      .selectFrom('users')
      .selectAll()
      .where('id', 'in', [...new Set(ids)])
      .execute();
    return new Map(rows.map((row) => [row.id, toUser(row)]));
  }

  async listUsers(includeInactive: boolean): Promise<User[]> {
    let query = this.db.selectFrom('users').selectAll();
    if (!includeInactive) query = query.where('deactivated_at', 'is', null);
    const rows = await query.orderBy('name').orderBy('id').limit(5000).execute();
    return rows.map(toUser);
  }

  async insertTeam(row: TeamRow, memberIds: string[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('teams').values(row).execute();
      if (memberIds.length > 0)
        await trx
          .insertInto('team_members')
          .values(memberIds.map((user_id, position) => ({ team_id: row.id, user_id, position })))
          .execute();
    });
  }

  async updateTeam(id: string, changes: Partial<Omit<TeamRow, 'id' | 'created_at'>>, memberIds?: string[]): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const updated = await trx.updateTable('teams').set(changes).where('id', '=', id).executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) return false;
      if (memberIds) {
        await trx.deleteFrom('team_members').where('team_id', '=', id).execute();
        if (memberIds.length > 0)
          await trx
            .insertInto('team_members')
            .values(memberIds.map((user_id, position) => ({ team_id: id, user_id, position })))
            .execute();
      }
      return true;
    });
  }

  async deleteTeam(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('teams').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async findTeam(id: string): Promise<Team | null> {
    const row = await this.db.selectFrom('teams').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? (await this.withMembers([row]))[0] : null;
  }

  async findTeamByName(name: string, db: Reader = this.db): Promise<Team | null> {
    const row = await db.selectFrom('teams').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? (await this.withMembers([row], db))[0] : null;
  }

  async listTeams(): Promise<Team[]> {
    return this.withMembers(await this.db.selectFrom('teams').selectAll().orderBy('name').limit(1000).execute());
  }

  /** The teams a user is a member of, by id. */
  async teamIdsOf(userId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('team_members').select('team_id').where('user_id', '=', userId).execute();
    return rows.map((r) => r.team_id);
  }

  private async withMembers(rows: Selectable<TeamRow>[], db: Reader = this.db): Promise<Team[]> {
    if (rows.length === 0) return [];
    const members = await db
      .selectFrom('team_members')
      .selectAll()
      .where(
        'team_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('position')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      escalation_policy: row.escalation_policy,
      notify: row.notify as TeamNotify,
      member_ids: members.filter((m) => m.team_id === row.id).map((m) => m.user_id),
      created_at: row.created_at,
      updated_at: row.updated_at,
    }));
  }
}
