import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AlertsService } from '../alerts/alerts.service';
import { KeyLimits } from '../auth/key-limits';
import type { Principal } from '../auth/request-principal';
import { Clock } from '../common/clock';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { Transactor, Tx } from '../database/transactor';
import { fingerprintOf } from '../incidents/domain/fingerprint';
import { isActive } from '../incidents/domain/state-machine';
import { IncidentsService } from '../incidents/incidents.service';
import { MetricsService } from '../metrics/metrics.service';
import { AlertMapping } from './alert-mapping';
import { AlertmanagerIntegration, parseNotification, UpstreamAlert } from './alertmanager/alertmanager-payload';
import { PAGERDUTY_SOURCE, parsePagerDutyEvent } from './pagerduty/pagerduty-event';
import { UpstreamAlertRepository } from './upstream-alert.repository';

export interface UpstreamAlertAnswer {
  fingerprint: string;
  status: 'firing' | 'resolved';
  /** firing: Accepted, Duplicate (or a repeat, answered as first received); resolved: Resolved, or Unknown when no incident holds it firing. */
  result: 'Accepted' | 'Duplicate' | 'Resolved' | 'Unknown';
  alert_id?: string;
  incident_ids: string[];
}

export interface NotificationAnswer {
  alerts: UpstreamAlertAnswer[];
  /** Incidents this notification resolved, because none of their upstream alerts fires any more. */
  resolved_incidents: string[];
}

/** One upstream alert of an incident, as GET /v1/incidents/{id}/upstream-alerts answers it. */
export interface UpstreamAlertView {
  integration: string;
  fingerprint: string;
  status: 'firing' | 'resolved';
  name: string;
  starts_at: string;
  ends_at: string | null;
  updated_at: string;
}

/**
 * Alerts in the senders' own formats: Alertmanager and Grafana webhook notifications, and
 * PagerDuty Events API v2 events. Each request is one transaction: its alerts, the upstream state
 * and any incident it resolves commit together or not at all.
 */
@Injectable()
export class IntegrationsService {
  private readonly mapping: AlertMapping;

  constructor(
    private readonly alerts: AlertsService,
    private readonly incidents: IncidentsService,
    private readonly upstream: UpstreamAlertRepository,
    private readonly transactor: Transactor,
    private readonly limits: KeyLimits,
    private readonly clock: Clock,
    private readonly metrics: MetricsService,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    this.mapping = new AlertMapping(config.integrations);
  }

  /** The Alertmanager and Grafana alerts folded into an incident, with their upstream state. */
  async upstreamAlertsOf(incidentId: string): Promise<UpstreamAlertView[]> {
    await this.incidents.assertExists(incidentId);
    return (await this.upstream.listFor(incidentId)).map(({ incident_id: _incident, ...row }) => ({ ...row, status: row.status as 'firing' | 'resolved' }));
  }

  async receiveNotification(body: unknown, integration: AlertmanagerIntegration, caller?: Principal): Promise<NotificationAnswer> {
    const upstream = this.metrics.rejectedIfThrows(
      integration,
      alertsOf(body),
      () => {
        const parsed = parseNotification(body, integration, this.mapping);
        this.limits.takeIngest(caller?.keyId, Math.max(1, parsed.length));
        return parsed;
      },
      integration, // the source of every alert an integration brings in
    );
    const now = this.clock.now().toISOString();
    return this.transactor.runGrouped(
      async (tx) => {
        const answers: UpstreamAlertAnswer[] = [];
        const touched = new Set<string>();
        for (const item of upstream) {
          if (item.status === 'firing') answers.push(await this.firing(tx, item, integration, now, caller));
          else answers.push(await this.resolved(tx, item, integration, now, touched, caller));
          await tx.pace();
        }
        const resolved_incidents: string[] = [];
        for (const id of touched) {
          if (await this.resolveIfQuiet(tx, id, integration, caller)) resolved_incidents.push(id);
          await tx.pace();
        }
        return { alerts: answers, resolved_incidents };
      },
      Math.max(1, upstream.length),
    );
  }

  private async firing(tx: Tx, item: UpstreamAlert, integration: AlertmanagerIntegration, now: string, caller?: Principal): Promise<UpstreamAlertAnswer> {
    const answer = await this.alerts.ingestWithin(tx, item.alert, now, caller, integration);
    await this.upstream.markFiring(tx, {
      incident_id: answer.incident_id,
      integration,
      fingerprint: item.fingerprint,
      name: item.name,
      starts_at: item.starts_at,
      updated_at: now,
    });
    return { fingerprint: item.fingerprint, status: 'firing', result: answer.status, alert_id: answer.alert_id, incident_ids: [answer.incident_id] };
  }

  private async resolved(
    tx: Tx,
    item: UpstreamAlert,
    integration: AlertmanagerIntegration,
    now: string,
    touched: Set<string>,
    caller?: Principal,
  ): Promise<UpstreamAlertAnswer> {
    const ids = await this.upstream.resolveFiring(tx, integration, item.fingerprint, item.starts_at, item.ends_at, now);
    for (const id of ids) {
      this.incidents.recordWithin(
        tx,
        id,
        'upstream_alert_resolved',
        integration,
        `${item.name} resolved in ${integration}`,
        { fingerprint: item.fingerprint, starts_at: item.starts_at, ends_at: item.ends_at },
        caller?.name,
      );
      touched.add(id);
    }
    return { fingerprint: item.fingerprint, status: 'resolved', result: ids.length > 0 ? 'Resolved' : 'Unknown', incident_ids: ids };
  }

  /** Resolves the incident (method Automated) once none of its upstream alerts fires. */
  private async resolveIfQuiet(tx: Tx, id: string, integration: AlertmanagerIntegration, caller?: Principal): Promise<boolean> {
    if (!this.config.integrations.auto_resolve) return false;
    // Locked before counting, so that a firing alert folding into it meanwhile waits for this decision.
    const incident = await this.incidents.findWithin(tx, id);
    if (!incident || !isActive(incident.state)) return false;
    const { firing, total } = await this.upstream.countsFor(tx, id);
    if (firing > 0) return false;
    await this.incidents.transitionWithin(
      tx,
      id,
      'Resolved',
      integration,
      undefined,
      {
        resolved_by: integration,
        method: 'Automated',
        notes: `every upstream alert of this incident (${total}) was resolved in ${integration}`,
        root_cause: null,
      },
      caller?.name,
    );
    return true;
  }

  /** One Events API v2 event; answers the dedup_key (made up for a trigger without one, as PagerDuty does). */
  async receivePagerDutyEvent(body: unknown, caller?: Principal): Promise<{ dedup_key: string }> {
    const event = this.metrics.rejectedIfThrows(
      PAGERDUTY_SOURCE,
      [body],
      () => {
        const parsed = parsePagerDutyEvent(body, this.mapping);
        this.limits.takeIngest(caller?.keyId, 1);
        return parsed;
      },
      PAGERDUTY_SOURCE,
    );
    const now = this.clock.now().toISOString();
    if (event.action === 'trigger') {
      const dedup_key = event.dedup_key ?? randomBytes(16).toString('hex');
      await this.transactor.runGrouped((tx) => this.alerts.ingestWithin(tx, { ...event.alert, dedup_key }, now, caller, PAGERDUTY_SOURCE));
      return { dedup_key };
    }
    const dedup_key = event.dedup_key;
    await this.transactor.runGrouped(async (tx) => {
      const incident = await this.incidents.dedupTargetWithin(tx, fingerprintOf({ source: PAGERDUTY_SOURCE, dedup_key, alert_type: '', title: '' }));
      // An event for an incident that is gone or was never opened is accepted and changes nothing, as with PagerDuty.
      if (!incident) return;
      const actor = caller?.name ?? PAGERDUTY_SOURCE;
      if (event.action === 'acknowledge' && incident.state === 'Detected') {
        await this.incidents.transitionWithin(tx, incident.id, 'Triaged', actor, 'acknowledged through the Events API', undefined, caller?.name);
      } else if (event.action === 'resolve' && isActive(incident.state) && !this.config.integrations.auto_resolve) {
        this.incidents.recordWithin(
          tx,
          incident.id,
          'upstream_alert_resolved',
          actor,
          'resolve event received through the Events API; left open, since integrations.auto_resolve is off',
          { dedup_key },
          caller?.name,
        );
      } else if (event.action === 'resolve' && isActive(incident.state)) {
        await this.incidents.transitionWithin(
          tx,
          incident.id,
          'Resolved',
          actor,
          undefined,
          { resolved_by: actor, method: 'Automated', notes: 'resolved through the Events API', root_cause: null },
          caller?.name,
        );
      }
    });
    return { dedup_key };
  }
}

/** The alerts a notification holds, as far as it can be told before it is checked (at least one, for a refused request). */
function alertsOf(body: unknown): readonly unknown[] {
  const alerts = (body as { alerts?: unknown } | null)?.alerts;
  return Array.isArray(alerts) && alerts.length > 0 ? alerts : [body];
}
