import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { StaticMigrationProvider } from '../src/database/migrations';

describe('migration 0003 (delivery priority)', () => {
  it('gives rows written before it their class: pages and first P0/P1 notifications first, the rest class 2', async () => {
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
    try {
      const migrator = new Migrator({ db, provider: new StaticMigrationProvider('sqlite') });
      expect((await migrator.migrateTo('0002_notification_deliveries')).error).toBeUndefined();
      const at = '2026-01-01T00:00:00.000Z';
      const incident = (id: string, severity: string) => ({
        id,
        title: id,
        description: '',
        severity,
        state: 'Detected',
        incident_type: 'Application',
        source: 'test',
        created_at: at,
        updated_at: at,
        affected_resources: '[]',
        assignees: '[]',
        labels: '{}',
        fingerprint: id,
        alert_count: 1,
        last_seen_at: at,
      });
      await db
        .insertInto('incidents')
        .values([incident('urgent', 'P1'), incident('minor', 'P4')])
        .execute();
      const delivery = (id: string, incidentId: string, event: string, channel: string) => ({
        id,
        incident_id: incidentId,
        event,
        channel,
        action: channel === 'pagerduty' ? 'trigger' : 'send',
        target: 't',
        payload: '{}',
        status: 'pending',
        attempts: 0,
        max_attempts: 4,
        next_attempt_at: at,
        created_at: at,
        updated_at: at,
      });
      await db
        .insertInto('notification_deliveries')
        .values([
          delivery('page', 'minor', 'incident.detected', 'pagerduty'),
          delivery('urgent-first', 'urgent', 'incident.detected', 'webhook'),
          delivery('urgent-later', 'urgent', 'incident.resolved', 'webhook'),
          delivery('minor-first', 'minor', 'incident.detected', 'webhook'),
        ])
        .execute();
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      const rows = await db.selectFrom('notification_deliveries').select(['id', 'priority']).orderBy('seq').execute();
      expect(rows).toEqual([
        { id: 'page', priority: 0 },
        { id: 'urgent-first', priority: 0 },
        { id: 'urgent-later', priority: 2 },
        { id: 'minor-first', priority: 2 },
      ]);
    } finally {
      await db.destroy();
    }
  });
});
