import { Inject, Injectable } from '@nestjs/common';
import type { Kysely, Selectable } from 'kysely';
import type { Database, ScheduleOverrideRow, ScheduleRow } from '../../database/schema';
import { DATABASE } from '../../database/tokens';
import type { Layer } from './layer-shifts';

export interface Schedule {
  id: string;
  name: string;
  time_zone: string;
  team_id: string | null;
  layers: Layer[];
  created_at: string;
  updated_at: string;
}

export type StoredOverride = Selectable<ScheduleOverrideRow>;

function toSchedule(row: Selectable<ScheduleRow>): Schedule {
  return { ...row, layers: JSON.parse(row.layers) as Layer[] };
}

/** Schedules (layers as JSON: a schedule is written whole) and their overrides. */
@Injectable()
export class ScheduleRepository {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  async insert(row: ScheduleRow): Promise<Schedule> {
    await this.db.insertInto('schedules').values(row).execute();
    return toSchedule(row);
  }

  async update(id: string, changes: Partial<Omit<ScheduleRow, 'id' | 'created_at'>>): Promise<Schedule | null> {
    const row = await this.db.updateTable('schedules').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
    return row ? toSchedule(row) : null;
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('schedules').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async find(id: string): Promise<Schedule | null> {
    const row = await this.db.selectFrom('schedules').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toSchedule(row) : null;
  }

  async findByName(name: string, db: Kysely<Database> = this.db): Promise<Schedule | null> {
    const row = await db.selectFrom('schedules').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? toSchedule(row) : null;
  }

  async list(): Promise<Schedule[]> {
    const rows = await this.db.selectFrom('schedules').selectAll().orderBy('name').limit(1000).execute();
    return rows.map(toSchedule);
  }

  async insertOverride(row: ScheduleOverrideRow): Promise<StoredOverride> {
    await this.db.insertInto('schedule_overrides').values(row).execute();
    return row;
  }

  async deleteOverride(scheduleId: string, id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('schedule_overrides').where('schedule_id', '=', scheduleId).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * Overrides of these schedules that overlap [from, to), oldest first (a later one wins where two
   * overlap). At most 10,000: the newest, the ones that win.
   */
  async overrides(scheduleIds: readonly string[], from: string, to: string, db: Kysely<Database> = this.db): Promise<StoredOverride[]> {
    if (scheduleIds.length === 0) return [];
    return db
      .selectFrom('schedule_overrides')
      .selectAll()
      .where('schedule_id', 'in', [...scheduleIds])
      .where('ends_at', '>', from)
      .where('starts_at', '<', to)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(10_000)
      .execute()
      .then((rows) => rows.reverse());
  }
}
