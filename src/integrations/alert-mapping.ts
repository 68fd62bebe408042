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
    this.types = new Map(INCIDENT_TYPES.map((type) => [type.toLowerCase(), type]));
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

  typeOf(labels: Record<string, string>): IncidentType {
    const value = labels[this.config.type_label]?.trim().toLowerCase();
    return (value !== undefined && this.types.get(value)) || this.defaultType;
  }

  get defaultSeverity(): Severity {
    return this.config.default_severity as Severity;
  }

  get defaultType(): IncidentType {
    return this.config.default_type as IncidentType;
  }
}
