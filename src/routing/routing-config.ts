import { SEVERITIES } from '../incidents/domain/incident';
import { formatDuration, parseDuration } from './duration';
import { formatMatcher, Matcher, MatcherSyntaxError, parseMatchers } from './matchers';

/**
 * The routing part of the configuration: named receivers, escalation policies and the routing
 * tree ([[receivers]], [[escalation_policies]] and [route] in the TOML file). Checked as a whole,
 * each problem naming its key, and compiled once into the form the router walks.
 */

/** The receiver made of the [notifications] single-target keys (slack_default_channel, email_to, pagerduty_integration_key_env, default_webhook_url); the root route's receiver unless [route] names another. */
export const DEFAULT_RECEIVER = 'default';
/** The PagerDuty target of notifications.pagerduty_integration_key_env (as stored before receivers existed). */
export const DEFAULT_PAGERDUTY_TARGET = 'integration';
/** The Teams target of notifications.teams_webhook_env (the default receiver's Workflows webhook). */
export const DEFAULT_TEAMS_TARGET = 'default';
export const ROUTING_SECTIONS = ['receivers', 'escalation_policies', 'route'] as const;

export interface PagerDutyTarget {
  /** As stored and shown: `integration` for the pagerduty_integration_key_env key, else `env:<VARIABLE>`. */
  target: string;
  env: string;
}

/** A Teams Workflows webhook: its URL is a secret (it carries its own signature), so only the variable is named. */
export interface TeamsTarget {
  /** As stored and shown: `default` for the URL in notifications.teams_webhook_env, else `env:<VARIABLE>`. */
  target: string;
  env: string;
}

/** People as a routing target: `user:<email>`, `schedule:<name>` or `team:<name>`, resolved when notified (they live in the store). */
export const PERSON_TARGET_KINDS = ['user', 'schedule', 'team'] as const;
export type PersonTargetKind = (typeof PERSON_TARGET_KINDS)[number];
export interface PersonTarget {
  kind: PersonTargetKind;
  ref: string;
}

/** `schedule:payments` → { kind: schedule, ref: payments }; anything else → null. */
export function personTargetOf(name: string): PersonTarget | null {
  const match = /^(user|schedule|team):(.+)$/.exec(name);
  return match ? { kind: match[1] as PersonTargetKind, ref: match[2].trim() } : null;
}

export interface Receiver {
  name: string;
  /** Set for a people target: the channel lists are empty, and the person's own contact methods are used. */
  person?: PersonTarget;
  slack_channels: string[];
  /** One email to all of them. */
  email_to: string[];
  pagerduty: PagerDutyTarget[];
  webhook_urls: string[];
  /** Teams Workflows webhooks (an Adaptive Card per event). */
  teams: TeamsTarget[];
}

export interface EscalationStep {
  /** Wait after the previous step (the first: after the incident was first notified). */
  after_ms: number;
  receiver: string;
}

export interface EscalationPolicy {
  name: string;
  steps: EscalationStep[];
  /** How many more times the whole policy runs after its last step, while nobody acknowledges. */
  repeat: number;
}

export interface Route {
  /** The route's name, or its place in the tree (root, root/0, root/0/1). */
  id: string;
  path: string;
  matchers: Matcher[];
  /** The matchers as written, for answers. */
  matcher_text: string[];
  /** Effective (inherited from the parent when not set). */
  receiver: string;
  escalation: string | null;
  repeat_interval_ms: number | null;
  continue: boolean;
  routes: Route[];
}

export interface Routing {
  receivers: Map<string, Receiver>;
  policies: Map<string, EscalationPolicy>;
  root: Route;
  /** Routing keys by variable name, read at load (and reload). Never shown. */
  pagerduty_keys: Map<string, string>;
  /** Teams Workflows webhook URLs by variable name, read at load (and reload). Never shown. */
  teams_urls: Map<string, string>;
  /** What is allowed but surely a mistake (a severity matcher that can't match P0–P4): logged, never refused. */
  warnings: RoutingProblem[];
}

export interface RoutingProblem {
  key: string;
  message: string;
}

/** The notification keys the default receiver is made of. */
export interface DefaultTargets {
  slack_enabled: boolean;
  slack_default_channel: string;
  email_enabled: boolean;
  email_to: readonly string[];
  pagerduty_enabled: boolean;
  pagerduty_integration_key_env: string;
  webhook_enabled: boolean;
  default_webhook_url: string;
  teams_enabled?: boolean;
  teams_webhook_env?: string;
}

type Env = Record<string, string | undefined>;
type Raw = Record<string, unknown>;

const RECEIVER_KEYS = ['name', 'slack_channels', 'email_to', 'pagerduty_keys_env', 'webhook_urls', 'teams_webhooks_env'];
const POLICY_KEYS = ['name', 'steps', 'repeat'];
const STEP_KEYS = ['after', 'receiver', ...PERSON_TARGET_KINDS];
const ROUTE_KEYS = ['name', 'matchers', 'receiver', 'escalation', 'repeat_interval', 'continue', 'routes'];
const MAX_DEPTH = 16;

function isTable(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  return Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
}

export interface RoutingOptions {
  /**
   * `optional`: a routing key's (or Teams URL's) variable that is not set is no problem; the target is kept (its
   * key absent from pagerduty_keys or teams_urls) and the variable listed in `unset`. For the routes CLI, which
   * shows and tests the routing without the secrets; the service requires them.
   */
  secrets?: 'required' | 'optional';
  /** integrations.severity_map (`critical=P1`), for the warnings about severity matchers. */
  severity_map?: readonly string[];
}

export function parseRouting(
  raw: Raw,
  env: Env,
  defaults: DefaultTargets,
  options: RoutingOptions = {},
): { routing?: Routing; problems: RoutingProblem[]; unset: RoutingProblem[] } {
  const problems: RoutingProblem[] = [];
  const problem = (key: string, message: string) => problems.push({ key, message });
  const unset: RoutingProblem[] = [];
  const warnings: RoutingProblem[] = [];
  const unknownKeys = (table: Raw, allowed: string[], prefix: string) => {
    for (const key of Object.keys(table)) if (!allowed.includes(key)) problem(`${prefix}.${key}`, `unknown key (known: ${allowed.join(', ')})`);
  };
  const stringList = (value: unknown, key: string): string[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      problem(key, `expected an array of strings, got ${describe(value)}`);
      return [];
    }
    return value.flatMap((item, i) => {
      if (typeof item !== 'string' || item.trim() === '') {
        problem(`${key}[${i}]`, 'expected a non-empty string');
        return [];
      }
      return [item.trim()];
    });
  };
  const text = (value: unknown, key: string): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string') {
      problem(key, `expected a string, got ${describe(value)}`);
      return undefined;
    }
    return value.trim();
  };

  const receivers = new Map<string, Receiver>();
  const pagerdutyKeys = new Map<string, string>();
  const defaultPd = defaults.pagerduty_integration_key_env;
  const teamsUrls = new Map<string, string>();
  const defaultTeams = defaults.teams_webhook_env ?? '';
  receivers.set(DEFAULT_RECEIVER, {
    name: DEFAULT_RECEIVER,
    slack_channels: defaults.slack_enabled ? [defaults.slack_default_channel] : [],
    email_to: defaults.email_enabled ? [...defaults.email_to] : [],
    pagerduty: defaults.pagerduty_enabled ? [{ target: DEFAULT_PAGERDUTY_TARGET, env: defaultPd }] : [],
    webhook_urls: defaults.webhook_enabled && defaults.default_webhook_url ? [defaults.default_webhook_url] : [],
    teams: defaults.teams_enabled && defaultTeams ? [{ target: DEFAULT_TEAMS_TARGET, env: defaultTeams }] : [],
  });

  const rawReceivers = raw.receivers ?? [];
  if (!Array.isArray(rawReceivers)) problem('receivers', 'expected an array of tables ([[receivers]])');
  else
    rawReceivers.forEach((entry: unknown, i) => {
      const at = `receivers[${i}]`;
      if (!isTable(entry)) return problem(at, 'expected a table');
      unknownKeys(entry, RECEIVER_KEYS, at);
      const name = text(entry.name, `${at}.name`);
      if (!name) return problem(`${at}.name`, 'every receiver needs a name');
      if (personTargetOf(name)) return problem(`${at}.name`, `"user:", "schedule:" and "team:" name people targets; choose another name`);
      if (name === DEFAULT_RECEIVER)
        return problem(`${at}.name`, `"${DEFAULT_RECEIVER}" is the receiver made of the [notifications] keys; choose another name`);
      if (receivers.has(name)) return problem(`${at}.name`, `a receiver named "${name}" is already defined`);
      const slack = stringList(entry.slack_channels, `${at}.slack_channels`);
      const email = stringList(entry.email_to, `${at}.email_to`);
      const pdEnv = stringList(entry.pagerduty_keys_env, `${at}.pagerduty_keys_env`);
      const webhooks = stringList(entry.webhook_urls, `${at}.webhook_urls`);
      const teamsEnv = stringList(entry.teams_webhooks_env, `${at}.teams_webhooks_env`);
      if (slack.length > 0 && !defaults.slack_enabled) problem(`${at}.slack_channels`, 'notifications.slack_enabled is false');
      if (email.length > 0 && !defaults.email_enabled) problem(`${at}.email_to`, 'notifications.email_enabled is false');
      email.forEach((address, j) => {
        if (!/^[^\s@<>]+@[^\s@<>]+$/.test(address)) problem(`${at}.email_to[${j}]`, `"${address}" is not an email address`);
      });
      if (pdEnv.length > 0 && !defaults.pagerduty_enabled) problem(`${at}.pagerduty_keys_env`, 'notifications.pagerduty_enabled is false');
      const pagerduty: PagerDutyTarget[] = [];
      pdEnv.forEach((variable, j) => {
        const value = env[variable]?.trim();
        if (!value) {
          const missing = { key: `${at}.pagerduty_keys_env[${j}]`, message: `the environment variable ${variable} is not set` };
          if (options.secrets !== 'optional') return problems.push(missing);
          unset.push(missing);
        } else pagerdutyKeys.set(variable, value);
        pagerduty.push({ target: variable === defaultPd ? DEFAULT_PAGERDUTY_TARGET : `env:${variable}`, env: variable });
      });
      if (webhooks.length > 0 && !defaults.webhook_enabled) problem(`${at}.webhook_urls`, 'notifications.webhook_enabled is false');
      webhooks.forEach((url, j) => {
        if (!/^https?:\/\/[^/]/i.test(url)) problem(`${at}.webhook_urls[${j}]`, 'must be an http(s) URL');
      });
      if (teamsEnv.length > 0 && !defaults.teams_enabled) problem(`${at}.teams_webhooks_env`, 'notifications.teams_enabled is false');
      const teams: TeamsTarget[] = [];
      teamsEnv.forEach((variable, j) => {
        const key = `${at}.teams_webhooks_env[${j}]`;
        const value = env[variable]?.trim();
        if (!value) {
          const missing = { key, message: `the environment variable ${variable} is not set` };
          if (options.secrets !== 'optional') return problems.push(missing);
          unset.push(missing);
        } else if (!/^https?:\/\/[^/\s]/i.test(value)) {
          return problem(key, `the environment variable ${variable} must hold an http(s) URL (a Workflows webhook URL)`);
        } else teamsUrls.set(variable, value);
        teams.push({ target: variable === defaultTeams ? DEFAULT_TEAMS_TARGET : `env:${variable}`, env: variable });
      });
      if (slack.length + email.length + pdEnv.length + webhooks.length + teamsEnv.length === 0) {
        problem(at, `receiver "${name}" has no targets (slack_channels, email_to, pagerduty_keys_env, webhook_urls or teams_webhooks_env)`);
      }
      receivers.set(name, { name, slack_channels: slack, email_to: email, pagerduty, webhook_urls: webhooks, teams });
    });
  if (defaults.pagerduty_enabled && env[defaultPd]?.trim()) pagerdutyKeys.set(defaultPd, env[defaultPd].trim());
  if (defaults.teams_enabled && defaultTeams && env[defaultTeams]?.trim()) teamsUrls.set(defaultTeams, env[defaultTeams].trim());

  const receiverRef = (value: unknown, key: string): string | undefined => {
    const name = text(value, key);
    if (name === undefined) return undefined;
    const person = personTargetOf(name);
    if (person) {
      // Checked when notified: people, schedules and teams change at runtime, without a reload.
      if (!receivers.has(name)) receivers.set(name, { name, person, slack_channels: [], email_to: [], pagerduty: [], webhook_urls: [], teams: [] });
      return name;
    }
    if (!receivers.has(name)) problem(key, `unknown receiver "${name}" (defined: ${[...receivers.keys()].join(', ')})`);
    return name;
  };
  const duration = (value: unknown, key: string): number | undefined => {
    const written = text(value, key);
    if (written === undefined) return undefined;
    const ms = parseDuration(written);
    if (ms === null) problem(key, `"${written}" is not a duration such as 30s, 5m or 1h30m`);
    return ms ?? undefined;
  };

  const policies = new Map<string, EscalationPolicy>();
  const rawPolicies = raw.escalation_policies ?? [];
  if (!Array.isArray(rawPolicies)) problem('escalation_policies', 'expected an array of tables ([[escalation_policies]])');
  else
    rawPolicies.forEach((entry: unknown, i) => {
      const at = `escalation_policies[${i}]`;
      if (!isTable(entry)) return problem(at, 'expected a table');
      unknownKeys(entry, POLICY_KEYS, at);
      const name = text(entry.name, `${at}.name`);
      if (!name) return problem(`${at}.name`, 'every escalation policy needs a name');
      if (policies.has(name)) return problem(`${at}.name`, `an escalation policy named "${name}" is already defined`);
      let repeat = 0;
      if (entry.repeat !== undefined) {
        const n = typeof entry.repeat === 'bigint' ? Number(entry.repeat) : entry.repeat;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 100) problem(`${at}.repeat`, 'expected an integer between 0 and 100');
        else repeat = n;
      }
      const steps: EscalationStep[] = [];
      if (!Array.isArray(entry.steps) || entry.steps.length === 0) problem(`${at}.steps`, 'expected at least one step: { after = "5m", receiver = "..." }');
      else
        entry.steps.forEach((step: unknown, j) => {
          const sat = `${at}.steps[${j}]`;
          if (!isTable(step)) return problem(sat, 'expected a table');
          unknownKeys(step, STEP_KEYS, sat);
          const after = duration(step.after, `${sat}.after`);
          if (step.after === undefined) problem(`${sat}.after`, 'every step needs after (a duration)');
          const given = (['receiver', ...PERSON_TARGET_KINDS] as const).filter((k) => step[k] !== undefined);
          if (given.length !== 1) problem(sat, 'every step needs one target: receiver, user, schedule or team');
          const kind = given[0];
          const receiver =
            kind === undefined
              ? undefined
              : kind === 'receiver'
                ? receiverRef(step.receiver, `${sat}.receiver`)
                : receiverRef(typeof step[kind] === 'string' ? `${kind}:${step[kind]}` : step[kind], `${sat}.${kind}`);
          if (after !== undefined && receiver !== undefined) steps.push({ after_ms: after, receiver });
        });
      if (repeat > 0 && steps[0]?.after_ms === 0) problem(`${at}.steps[0].after`, 'a policy that repeats needs a first step after more than 0s');
      policies.set(name, { name, steps, repeat });
    });

  const ids = new Set<string>();
  const compile = (table: Raw, at: string, path: string, parent: Route | null, depth: number): Route => {
    unknownKeys(table, ROUTE_KEYS, at);
    const name = text(table.name, `${at}.name`);
    const id = name || path;
    if (ids.has(id)) problem(`${at}.name`, `a route named "${id}" is already defined`);
    ids.add(id);
    const matcherText = parent === null && table.matchers !== undefined ? [] : stringList(table.matchers, `${at}.matchers`);
    if (parent === null && table.matchers !== undefined) problem(`${at}.matchers`, 'the root route matches every incident: it takes no matchers');
    const matchers: Matcher[] = [];
    matcherText.forEach((written, j) => {
      try {
        const parsed = parseMatchers(written);
        matchers.push(...parsed);
        for (const m of parsed) {
          const warning = severityMatcherWarning(m, options.severity_map ?? []);
          if (warning) warnings.push({ key: `${at}.matchers[${j}]`, message: warning });
        }
      } catch (err) {
        if (!(err instanceof MatcherSyntaxError)) throw err;
        problem(`${at}.matchers[${j}]`, err.message);
      }
    });
    const receiver = receiverRef(table.receiver, `${at}.receiver`) ?? parent?.receiver ?? DEFAULT_RECEIVER;
    let escalation = parent?.escalation ?? null;
    const writtenEscalation = text(table.escalation, `${at}.escalation`);
    if (writtenEscalation !== undefined) {
      escalation = writtenEscalation === '' ? null : writtenEscalation;
      if (escalation !== null && !policies.has(escalation)) {
        problem(`${at}.escalation`, `unknown escalation policy "${escalation}"${policies.size > 0 ? ` (defined: ${[...policies.keys()].join(', ')})` : ''}`);
      }
    }
    let repeatInterval = parent?.repeat_interval_ms ?? null;
    const writtenRepeat = duration(table.repeat_interval, `${at}.repeat_interval`);
    if (writtenRepeat !== undefined) {
      repeatInterval = writtenRepeat === 0 ? null : writtenRepeat;
      if (writtenRepeat !== 0 && writtenRepeat < 60_000)
        problem(`${at}.repeat_interval`, `at least 1m (or "0" for none), got ${formatDuration(writtenRepeat)}`);
    }
    let cont = false;
    if (table.continue !== undefined) {
      if (typeof table.continue !== 'boolean') problem(`${at}.continue`, `expected a boolean, got ${describe(table.continue)}`);
      else cont = table.continue;
    }
    if (parent === null && cont) problem(`${at}.continue`, 'the root route has no siblings to continue to');
    const route: Route = {
      id,
      path,
      matchers,
      matcher_text: matcherText,
      receiver,
      escalation,
      repeat_interval_ms: repeatInterval,
      continue: cont,
      routes: [],
    };
    if (table.routes !== undefined) {
      if (!Array.isArray(table.routes)) problem(`${at}.routes`, 'expected an array of tables ([[route.routes]])');
      else if (depth >= MAX_DEPTH) problem(`${at}.routes`, `routes nest at most ${MAX_DEPTH} deep`);
      else
        table.routes.forEach((child: unknown, i) => {
          if (!isTable(child)) return problem(`${at}.routes[${i}]`, 'expected a table');
          route.routes.push(compile(child, `${at}.routes[${i}]`, `${path}/${i}`, route, depth + 1));
        });
    }
    return route;
  };
  let rootTable: Raw = {};
  if (raw.route !== undefined && !isTable(raw.route)) problem('route', 'expected a table ([route])');
  else if (raw.route !== undefined) rootTable = raw.route;
  const root = compile(rootTable, 'route', 'root', null, 0);
  if (problems.length > 0) return { problems, unset };
  return { routing: { receivers, policies, root, pagerduty_keys: pagerdutyKeys, teams_urls: teamsUrls, warnings }, problems, unset };
}

/**
 * A matcher on `severity` that no incident's severity (P0–P4) can satisfy: usually Alertmanager's
 * words (`severity="critical"`), which the integrations turn into P0–P4 through
 * integrations.severity_map. The sender's label stays among the incident's labels under its own
 * name, but a matcher named severity reads the field, so the label cannot be matched. Undefined
 * when the matcher can match (or, for != and !~, fail) some severity.
 */
export function severityMatcherWarning(m: Matcher, severityMap: readonly string[]): string | undefined {
  if (m.name !== 'severity') return undefined;
  const test = (value: string) => (m.regex ? m.regex.test(value) : value === m.value);
  if (SEVERITIES.some(test)) return undefined;
  // As AlertMapping reads it: the label's value, lower-cased, and its severity.
  const mapping = severityMap.flatMap((entry): [string, string][] => {
    const at = entry.lastIndexOf('=');
    const severity = entry.slice(at + 1).trim();
    return at > 0 && (SEVERITIES as readonly string[]).includes(severity) ? [[entry.slice(0, at).trim().toLowerCase(), severity]] : [];
  });
  // What it meant, read as the mapping reads a label's value: one of its words, or p0–p4, in any case.
  const candidates = [...mapping, ...SEVERITIES.map((s): [string, string] => [s.toLowerCase(), s])];
  const meant = (word: string) => (m.regex ? m.regex.test(word) || m.regex.test(word.toUpperCase()) : m.value.trim().toLowerCase() === word);
  const targets = SEVERITIES.filter((s) => candidates.some(([word, severity]) => severity === s && meant(word)));
  const positive = m.operator === '=' || m.operator === '=~';
  const instead =
    targets.length === 0
      ? `compare it with P0 to P4, such as severity${positive ? '=' : '!='}"P1"`
      : targets.length === 1 && !m.regex
        ? `use severity${m.operator}"${targets[0]}"`
        : `use severity${positive ? '=~' : '!~'}"${targets.join('|')}"`;
  const words = mapping.length > 0 ? ` (${mapping.map(([word, severity]) => `${word}→${severity}`).join(', ')})` : '';
  return (
    `${formatMatcher(m)} ${positive ? 'matches no incident' : 'holds for every incident'}: severity is the incident's severity, one of P0 to P4, ` +
    `not Alertmanager's severity label, which integrations.severity_map turns into P0–P4${words}; ` +
    `the label is kept among the incident's labels, but a matcher named severity reads the incident's severity. ${instead[0].toUpperCase()}${instead.slice(1)}`
  );
}
