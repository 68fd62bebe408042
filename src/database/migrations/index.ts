import { Kysely, Migration, MigrationProvider, sql } from 'kysely';
import type { Database, Dialect } from '../schema';

/**
 * One migration history for both dialects. Where the two differ (auto-increment keys) the
 * migration asks which dialect it runs on; everything else is the same SQL.
 */
function initial(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('incidents')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('severity', 'varchar(2)', (c) => c.notNull())
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('incident_type', 'varchar(16)', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('resolved_at', 'varchar(32)')
        .addColumn('affected_resources', 'text', (c) => c.notNull())
        .addColumn('assignees', 'text', (c) => c.notNull())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'varchar(64)', (c) => c.notNull())
        .addColumn('open_fingerprint', 'varchar(64)')
        .addColumn('alert_count', 'integer', (c) => c.notNull())
        .addColumn('last_seen_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('resolution', 'text')
        .execute();
      // The database, not the code, guarantees one dedup target per fingerprint: the open
      // incident that alerts with that fingerprint fold into (NULL for all other incidents).
      await db.schema.createIndex('incidents_open_fingerprint_uq').unique().on('incidents').column('open_fingerprint').execute();
      await db.schema.createIndex('incidents_created_at_idx').on('incidents').columns(['created_at', 'id']).execute();
      await db.schema.createIndex('incidents_state_idx').on('incidents').column('state').execute();

      await db.schema
        .createTable('incident_timeline')
        .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('incident_id', 'varchar(36)', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
        .addColumn('timestamp', 'varchar(32)', (c) => c.notNull())
        .addColumn('event_type', 'varchar(64)', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('incident_timeline_incident_idx').on('incident_timeline').columns(['incident_id', 'seq']).execute();

      await db.schema
        .createTable('incident_notes')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('incident_id', 'varchar(36)', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
        .addColumn('author', 'text', (c) => c.notNull())
        .addColumn('content', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('incident_notes_incident_idx').on('incident_notes').columns(['incident_id', 'created_at']).execute();

      await db.schema
        .createTable('alerts')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('incident_id', 'varchar(36)', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('external_id', 'text')
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('severity', 'varchar(2)', (c) => c.notNull())
        .addColumn('alert_type', 'varchar(16)', (c) => c.notNull())
        .addColumn('dedup_key', 'text')
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('affected_services', 'text', (c) => c.notNull())
        .addColumn('runbook_url', 'text')
        .addColumn('annotations', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'varchar(64)', (c) => c.notNull())
        .addColumn('received_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      // Only alerts that carry an external id are indexed (and unique per source); most do not.
      await db.schema
        .createIndex('alerts_source_external_id_uq')
        .unique()
        .on('alerts')
        .columns(['source', 'external_id'])
        .where(sql.ref('external_id'), 'is not', null)
        .execute();
      await db.schema.createIndex('alerts_incident_idx').on('alerts').columns(['incident_id', 'received_at']).execute();
    },
  };
}

function notificationDeliveries(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('notification_deliveries')
        // seq is the key (an auto-increment on both dialects); the public id is unique beside it.
        .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('id', 'varchar(36)', (c) => c.notNull().unique())
        .addColumn('incident_id', 'varchar(36)', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
        .addColumn('event', 'varchar(32)', (c) => c.notNull())
        .addColumn('channel', 'varchar(16)', (c) => c.notNull())
        .addColumn('action', 'varchar(16)', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('target_ref', 'text')
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', 'varchar(32)')
        .addColumn('last_error', 'text')
        .addColumn('external_ref', 'text')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('sent_at', 'varchar(32)')
        .execute();
      // Claims walk due rows and expired leases; the ordering check seeks the earlier unsent rows
      // of one (incident, channel, target) directly, however many sent ones precede them.
      await db.schema.createIndex('deliveries_due_idx').on('notification_deliveries').columns(['status', 'next_attempt_at', 'seq']).execute();
      await db.schema.createIndex('deliveries_lease_idx').on('notification_deliveries').columns(['status', 'lease_until']).execute();
      await db.schema
        .createIndex('deliveries_target_idx')
        .on('notification_deliveries')
        .columns(['incident_id', 'channel', 'target', 'status', 'seq'])
        .execute();
    },
  };
}

/** Deliveries carry a priority class; the claim walks due rows most urgent first. */
function deliveryPriority(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('notification_deliveries')
        .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(2))
        .execute();
      await db.schema
        .createIndex('deliveries_due_priority_idx')
        .on('notification_deliveries')
        .columns(['status', 'priority', 'next_attempt_at', 'seq'])
        .execute();
      await db.schema.dropIndex('deliveries_due_idx').execute();
      // Rows written before priorities existed: pages, and the first notifications of P0/P1
      // incidents, go first (as priorityOf would have placed them); the rest stay in class 2.
      await sql`update notification_deliveries set priority = 0 where channel = 'pagerduty' or (event = 'incident.detected' and incident_id in (select id from incidents where severity in ('P0', 'P1')))`.execute(
        db,
      );
    },
  };
}

/** API keys (only a hash of each secret is stored), and the key behind each timeline entry. */
function apiKeys(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'varchar(16)', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addColumn('last_used_at', 'varchar(32)')
        .addColumn('expires_at', 'varchar(32)')
        .addColumn('revoked_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('api_keys_created_at_idx').on('api_keys').columns(['created_at', 'id']).execute();
      await db.schema.alterTable('incident_timeline').addColumn('api_key_name', 'text').execute();
    },
  };
}

/** What integrations know of each upstream alert, for resolving incidents when the sender does. */
function upstreamAlerts(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('upstream_alerts')
        .addColumn('incident_id', 'varchar(36)', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
        .addColumn('integration', 'varchar(32)', (c) => c.notNull())
        .addColumn('fingerprint', 'varchar(255)', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('starts_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('ends_at', 'varchar(40)')
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addPrimaryKeyConstraint('upstream_alerts_pk', ['incident_id', 'integration', 'fingerprint'])
        .execute();
      // A resolved notification names the alert, not the incident: found by its fingerprint.
      await db.schema.createIndex('upstream_alerts_fingerprint_idx').on('upstream_alerts').columns(['integration', 'fingerprint', 'status']).execute();
    },
  };
}

/**
 * Routing, escalation, acknowledgement and silences: who acknowledged an incident, which route
 * and receiver produced a delivery (and the silence that suppressed it), the durable schedule of
 * escalation steps and repeats, the silences, and the Slack interaction signatures already seen.
 */
function routing(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('incidents').addColumn('acknowledged_at', 'varchar(32)').execute();
      await db.schema.alterTable('incidents').addColumn('acknowledged_by', 'text').execute();
      await db.schema.alterTable('notification_deliveries').addColumn('route', 'text').execute();
      await db.schema.alterTable('notification_deliveries').addColumn('receiver', 'text').execute();
      await db.schema.alterTable('notification_deliveries').addColumn('silence_id', 'varchar(36)').execute();
      await db.schema.createIndex('notification_deliveries_silence_idx').on('notification_deliveries').columns(['silence_id', 'status']).execute();

      await db.schema
        .createTable('scheduled_steps')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('incident_id', 'varchar(36)', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
        // escalation | repeat
        .addColumn('kind', 'varchar(16)', (c) => c.notNull())
        .addColumn('route', 'text', (c) => c.notNull())
        // escalation: the policy, its step and round; repeat: the receivers (JSON array)
        .addColumn('policy', 'text')
        .addColumn('step', 'integer', (c) => c.notNull())
        .addColumn('round', 'integer', (c) => c.notNull())
        .addColumn('receivers', 'text', (c) => c.notNull())
        .addColumn('due_at', 'varchar(32)', (c) => c.notNull())
        // pending | fired | cancelled
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('settled_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('scheduled_steps_due_idx').on('scheduled_steps').columns(['status', 'due_at']).execute();
      await db.schema.createIndex('scheduled_steps_incident_idx').on('scheduled_steps').columns(['incident_id', 'status']).execute();

      await db.schema
        .createTable('silences')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        // The matchers as written (JSON array of strings): parsed again when read.
        .addColumn('matchers', 'text', (c) => c.notNull())
        .addColumn('starts_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('ends_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('comment', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('api_key_name', 'text')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        // Set once the end was acted on (incidents it kept quiet notified), by one instance.
        .addColumn('end_handled_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('silences_ends_idx').on('silences').columns(['ends_at']).execute();

      await db.schema
        .createTable('slack_interaction_receipts')
        .addColumn('signature', 'varchar(80)', (c) => c.primaryKey())
        .addColumn('received_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('slack_interaction_receipts_at_idx').on('slack_interaction_receipts').columns(['received_at']).execute();
    },
  };
}

/** Console sign-in sessions: one row per session, keyed by a hash of its cookie's token (never the token). */
function consoleSessions(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('console_sessions')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('key_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('ended_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('console_sessions_expires_idx').on('console_sessions').columns(['expires_at']).execute();
    },
  };
}

/**
 * The store's health probe writes here: a row it inserts and rolls back (it needs new pages) and
 * a heartbeat row it updates, so a store that answers reads but has no room to write (a full
 * disk) is reported not ready.
 */
function storeProbe(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('store_probe')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('filler', 'text', (c) => c.notNull())
        .execute();
    },
  };
}

/** An incident's runbook: the first alert folded into it that named one (messages link to it). */
function incidentRunbook(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('incidents').addColumn('runbook_url', 'text').execute();
    },
  };
}

/**
 * People and on-call: users (with their notification rules), teams and their members, schedules
 * (their layers as JSON: a schedule is edited whole) and overrides; an API key may belong to a user.
 */
function people(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('email', 'varchar(320)', (c) => c.notNull().unique())
        .addColumn('slack_user_id', 'varchar(32)')
        .addColumn('phone', 'varchar(16)')
        .addColumn('time_zone', 'varchar(64)', (c) => c.notNull())
        .addColumn('notification_rules', 'text', (c) => c.notNull())
        .addColumn('calendar_token_hash', 'varchar(64)')
        .addColumn('deactivated_at', 'varchar(32)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('users_calendar_token_uq').unique().on('users').column('calendar_token_hash').execute();
      await db.schema
        .createTable('teams')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('escalation_policy', 'varchar(255)')
        .addColumn('notify', 'varchar(16)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('team_members')
        .addColumn('team_id', 'varchar(36)', (c) => c.notNull().references('teams.id').onDelete('cascade'))
        .addColumn('user_id', 'varchar(36)', (c) => c.notNull().references('users.id'))
        .addColumn('position', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('team_members_pk', ['team_id', 'user_id'])
        .execute();
      await db.schema.createIndex('team_members_user_idx').on('team_members').column('user_id').execute();
      await db.schema
        .createTable('schedules')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('time_zone', 'varchar(64)', (c) => c.notNull())
        .addColumn('team_id', 'varchar(36)', (c) => c.references('teams.id').onDelete('set null'))
        .addColumn('layers', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('schedule_overrides')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('schedule_id', 'varchar(36)', (c) => c.notNull().references('schedules.id').onDelete('cascade'))
        .addColumn('user_id', 'varchar(36)', (c) => c.notNull().references('users.id'))
        .addColumn('starts_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('ends_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('schedule_overrides_schedule_idx').on('schedule_overrides').columns(['schedule_id', 'ends_at']).execute();
      await db.schema.alterTable('api_keys').addColumn('user_id', 'varchar(36)').execute();
    },
  };
}

/** Push topics for people, and the receipts that make each inbound callback count once. */
function phoneAndPush(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('users').addColumn('ntfy_topic', 'varchar(64)').execute();
      await db.schema
        .createTable('inbound_receipts')
        .addColumn('source', 'varchar(32)', (c) => c.notNull())
        .addColumn('id', 'varchar(255)', (c) => c.notNull())
        .addColumn('received_at', 'varchar(32)', (c) => c.notNull())
        .addPrimaryKeyConstraint('inbound_receipts_pk', ['source', 'id'])
        .execute();
      await db.schema.createIndex('inbound_receipts_at_idx').on('inbound_receipts').columns(['received_at']).execute();
      // The dedup_key of each custom PagerDuty page, so that PagerDuty's webhooks find its incident by key.
      await db.schema
        .createTable('pagerduty_custom_keys')
        .addColumn('dedup_key', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('incident_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      // Custom pages written before this migration: their keys, from the stored events.
      const pages = await (db as Kysely<Database>)
        .selectFrom('notification_deliveries')
        .select(['incident_id', 'payload', 'created_at'])
        .where('channel', '=', 'pagerduty')
        .where('action', '=', 'trigger')
        .where('target', 'like', 'service-key#%')
        .orderBy('created_at')
        .execute();
      const latest = new Map<string, { incident_id: string; created_at: string }>();
      for (const page of pages) {
        const key = (JSON.parse(page.payload) as { dedup_key?: unknown }).dedup_key;
        if (typeof key === 'string' && key.length <= 255) latest.set(key, { incident_id: page.incident_id, created_at: page.created_at });
      }
      const rows = [...latest].map(([dedup_key, page]) => ({ dedup_key, ...page }));
      for (let i = 0; i < rows.length; i += 500)
        await (db as Kysely<Database>)
          .insertInto('pagerduty_custom_keys')
          .values(rows.slice(i, i + 500))
          .execute();
      // Texts and calls to one phone (folding, and matching a reply): partial, so that the other
      // channels' deliveries pay nothing for them; one per channel, as a query names one channel
      // (SQLite uses a partial index only when the query states its condition as written).
      for (const channel of ['sms', 'voice'])
        await db.schema
          .createIndex(`deliveries_${channel}_target_idx`)
          .on('notification_deliveries')
          .columns(['target', 'created_at'])
          .where(sql.ref('channel'), '=', channel)
          .execute();
    },
  };
}

export class StaticMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}

  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve({
      '0001_initial': initial(this.dialect),
      '0002_notification_deliveries': notificationDeliveries(this.dialect),
      '0003_delivery_priority': deliveryPriority(),
      '0004_api_keys': apiKeys(),
      '0005_upstream_alerts': upstreamAlerts(),
      '0006_routing': routing(),
      '0007_console_sessions': consoleSessions(),
      '0008_store_probe': storeProbe(),
      '0009_incident_runbook': incidentRunbook(),
      '0010_people': people(),
      '0011_phone_and_push': phoneAndPush(),
    });
  }
}
