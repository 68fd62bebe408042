import { INCIDENT_TYPES, IncidentType, SEVERITIES, Severity } from '../incidents/domain/incident';
import type { AppConfig } from '../config/config.schema';

/** How sender labels become a severity and an incident type ([integrations] in the config). */
export class AlertMapping {
  private readonly severities: ReadonlyMap<string, Severity>;
  private readonly types: ReadonlyMap<string, IncidentType>;

  constructor(private readonly config: AppConfig['integrations']) {
    this.severities = new Map(
      config.severity_map.map((entry) => {
        const at = entry.lastIndexOf('=');
        return [entry.slice(0, at).trim().toLowerCase(), entry.slice(at + 1) as Severity];
      }),
    );
    const byName = new Map<string, IncidentType>(INCIDENT_TYPES.map((type) => [type.toLowerCase(), type]));
    this.types = new Map([
      ...byName,
      ...config.type_map.map((entry): [string, IncidentType] => {
        const at = entry.lastIndexOf('=');
        return [
          entry.slice(0, at).trim().toLowerCase(),
          byName.get(
            entry
              .slice(at + 1)
              .trim()
              .toLowerCase(),
          )!,
        ];
      }),
    ]);
  }

  /** From the severity label: mapped, a P0–P4 given as such, or the default. */
  severityOf(labels: Record<string, string>): Severity {
    const value = labels[this.config.severity_label]?.trim();
    if (value === undefined) return this.defaultSeverity;
    const mapped = this.severities.get(value.toLowerCase());
    if (mapped) return mapped;
    const upper = value.toUpperCase();
    return (SEVERITIES as readonly string[]).includes(upper) ? (upper as Severity) : this.defaultSeverity;
  }

  /** From the type label (a type's name or a type_map value), else from the alert's name, else the default. */
  typeOf(labels: Record<string, string>): IncidentType {
    const value = labels[this.config.type_label]?.trim().toLowerCase();
    const named = value !== undefined ? this.types.get(value) : undefined;
    if (named) return named;
    if (value === undefined && this.config.type_from_alertname && labels.alertname) return typeOfAlertname(labels.alertname) ?? this.defaultType;
    return this.defaultType;
  }

  get defaultSeverity(): Severity {
    return this.config.default_severity as Severity;
  }

  get defaultType(): IncidentType {
    return this.config.default_type as IncidentType;
  }
}

/**
 * Words of common alert names and the type they mean, first match wins (Prometheus's and
 * kube-prometheus's rules: NodeFilesystemSpaceFillingUp, KubePodCrashLooping, HighErrorRate…).
 * Security first: a certificate that expires is not an infrastructure problem to its owner.
 */
const ALERTNAME_TYPES: [RegExp, IncidentType][] = [
  [/cert|tls|ssl|auth|login|intrusion|attack|vulnerab|secret|unauthori[sz]ed|forbidden/i, 'Security'],
  [/latency|slow|duration|throughput|saturat|throttl|queue|backlog|lag/i, 'Performance'],
  [/down$|unreachable|unavailable|absent|^up$|targetdown|probefail|blackbox|endpoint/i, 'Availability'],
  [/error|5xx|exception|crash|panic|restart|oom|fail/i, 'Application'],
  [/replica|backup|database|postgres|mysql|redis|kafka|corrupt|dataloss/i, 'Data'],
  [/node|disk|filesystem|volume|cpu|memory|host|instance|network|kube|pod|container/i, 'Infrastructure'],
];

export function typeOfAlertname(alertname: string): IncidentType | undefined {
  return ALERTNAME_TYPES.find(([words]) => words.test(alertname))?.[1];
}
