import { Inject, Injectable, Logger } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { Clock } from '../common/clock';
import { DomainError, ErrorCode } from '../common/domain-error';
import { ConfigError } from '../config/config.loader';
import { CONFIG_SOURCE, ConfigSource, InjectConfig, logConfigWarnings } from '../config/config.module';
import { AppConfig, CONFIG_SCHEMA } from '../config/config.schema';
import type { Incident } from '../incidents/domain/incident';
import type { MatchSubject } from './matchers';
import { allRoutes, matchRoutes, RouteMatch, RouteVisit } from './route-matching';
import type { EscalationPolicy, Receiver, Route, Routing } from './routing-config';

export function subjectOf(incident: Pick<Incident, 'severity' | 'source' | 'incident_type' | 'affected_resources' | 'labels'>): MatchSubject {
  return {
    severity: incident.severity,
    source: incident.source,
    incident_type: incident.incident_type,
    affected_resources: incident.affected_resources,
    labels: incident.labels,
  };
}

export interface ReloadOutcome {
  version: number;
  loaded_at: string;
  receivers: number;
  routes: number;
  escalation_policies: number;
  /** Keys outside the routing sections whose new value takes a restart; the running values stay. */
  restart_required: string[];
}

/**
 * The routing in force: receivers, escalation policies and the tree. Replaced whole on reload
 * (SIGHUP or POST /v1/admin/config/reload); a configuration that does not validate is refused
 * with its problems, and the running routing stays.
 */
@Injectable()
export class RoutingService {
  private readonly logger = new Logger('Routing');
  private current: Routing;
  /** Webhook URLs written in the configuration, looked up on every webhook send. */
  private configuredWebhooks: Set<string>;
  private version = 1;
  private loadedAt: string;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    @Inject(CONFIG_SOURCE) private readonly source: ConfigSource,
    private readonly clock: Clock,
  ) {
    this.current = config.routing;
    this.configuredWebhooks = webhooksOf(config);
    this.loadedAt = clock.now().toISOString();
  }

  get routing(): Routing {
    return this.current;
  }

  route(subject: MatchSubject): { matches: RouteMatch[]; visits: RouteVisit[] } {
    return matchRoutes(this.current, subject);
  }

  receiver(name: string): Receiver | undefined {
    return this.current.receivers.get(name);
  }

  /** Whether any route or step names people (user:, schedule:, team:): else nothing on the ingest path looks for them. */
  get hasPersonTargets(): boolean {
    if (this.personTargetsOf !== this.current) {
      this.personTargetsOf = this.current;
      this.personTargets = [...this.current.receivers.values()].some((receiver) => receiver.person !== undefined);
    }
    return this.personTargets;
  }

  /** hasPersonTargets, worked out once per routing loaded. */
  private personTargetsOf: Routing | null = null;
  private personTargets = false;

  policy(name: string): EscalationPolicy | undefined {
    return this.current.policies.get(name);
  }

  /** The route with this id in the tree in force, if it is still there. */
  findRoute(id: string): Route | undefined {
    return allRoutes(this.current.root).find((route) => route.id === id);
  }

  /** The routing key in the named variable, as read at the last (re)load. */
  pagerdutyKey(variable: string): string | undefined {
    return this.current.pagerduty_keys.get(variable);
  }

  /** A webhook URL written in the configuration is trusted as written (not put through the outbound policy). */
  isConfiguredWebhook(url: string): boolean {
    return this.configuredWebhooks.has(url);
  }

  reload(trigger: string): ReloadOutcome {
    let next: AppConfig;
    try {
      next = this.source();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.logger.error({ msg: 'configuration reload refused: the running configuration stays', trigger, problems: err.problems });
      throw new DomainError(
        ErrorCode.CONFIG_INVALID,
        `the new configuration is invalid; the running one stays: ${err.problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`,
        {
          problems: err.problems,
        },
      );
    }
    const restartRequired: string[] = [];
    for (const [section, keys] of Object.entries(CONFIG_SCHEMA)) {
      for (const key of Object.keys(keys)) {
        const before = (this.config as unknown as Record<string, Record<string, unknown>>)[section][key];
        const after = (next as unknown as Record<string, Record<string, unknown>>)[section][key];
        if (!isDeepStrictEqual(before, after)) restartRequired.push(`${section}.${key}`);
      }
    }
    logConfigWarnings(next, new Logger('Config'));
    this.current = next.routing;
    // The running default_webhook_url stays (it takes a restart), with the new receivers' URLs.
    this.configuredWebhooks = webhooksOf({ ...next, notifications: this.config.notifications });
    this.version += 1;
    this.loadedAt = this.clock.now().toISOString();
    const outcome = this.describeLoad(restartRequired);
    this.logger.log({ msg: 'routing reloaded', trigger, ...outcome });
    return outcome;
  }

  describeLoad(restartRequired: string[] = []): ReloadOutcome {
    return {
      version: this.version,
      loaded_at: this.loadedAt,
      receivers: this.current.receivers.size,
      routes: allRoutes(this.current.root).length,
      escalation_policies: this.current.policies.size,
      restart_required: restartRequired,
    };
  }
}

function webhooksOf(config: Pick<AppConfig, 'notifications' | 'routing'>): Set<string> {
  return new Set(
    [config.notifications.default_webhook_url, ...[...config.routing.receivers.values()].flatMap((r) => r.webhook_urls)].filter((url) => url !== ''),
  );
}
