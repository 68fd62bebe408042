import { formatDuration, parseDuration } from './duration';
import { Matcher, MatcherSyntaxError, parseMatchers } from './matchers';

/**
 * The routing part of the configuration: named receivers, escalation policies and the routing
 * tree ([[receivers]], [[escalation_policies]] and [route] in the TOML file). Checked as a whole,
 * each problem naming its key, and compiled once into the form the router walks.
 */

/** The receiver made of the guide's single-target keys; the root route's receiver unless [route] names another. */
export const DEFAULT_RECEIVER = 'default';
/** The PagerDuty target of the guide's pagerduty_integration_key_env (as stored before receivers existed). */
export const DEFAULT_PAGERDUTY_TARGET = 'integration';
export const ROUTING_SECTIONS = ['receivers', 'escalation_policies', 'route'] as const;

export interface PagerDutyTarget {
  /** As stored and shown: `integration` for the guide's key, else `env:<VARIABLE>`. */
  target: string;
  env: string;
}

export interface Receiver {
  name: string;
  slack_channels: string[];
  /** One email to all of them. */
  email_to: string[];
  pagerduty: PagerDutyTarget[];
  webhook_urls: string[];
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
}

type Env = Record<string, string | undefined>;
type Raw = Record<string, unknown>;

const RECEIVER_KEYS = ['name', 'slack_channels', 'email_to', 'pagerduty_keys_env', 'webhook_urls'];
const POLICY_KEYS = ['name', 'steps', 'repeat'];
const STEP_KEYS = ['after', 'receiver'];
const ROUTE_KEYS = ['name', 'matchers', 'receiver', 'escalation', 'repeat_interval', 'continue', 'routes'];
const MAX_DEPTH = 16;

function isTable(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  return Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
}

export function parseRouting(raw: Raw, env: Env, defaults: DefaultTargets): { routing?: Routing; problems: RoutingProblem[] } {
  const problems: RoutingProblem[] = [];
  const problem = (key: string, message: string) => problems.push({ key, message });
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
  receivers.set(DEFAULT_RECEIVER, {
    name: DEFAULT_RECEIVER,
    slack_channels: defaults.slack_enabled ? [defaults.slack_default_channel] : [],
    email_to: defaults.email_enabled ? [...defaults.email_to] : [],
    pagerduty: defaults.pagerduty_enabled ? [{ target: DEFAULT_PAGERDUTY_TARGET, env: defaultPd }] : [],
    webhook_urls: defaults.webhook_enabled && defaults.default_webhook_url ? [defaults.default_webhook_url] : [],
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
      if (name === DEFAULT_RECEIVER)
        return problem(`${at}.name`, `"${DEFAULT_RECEIVER}" is the receiver made of the [notifications] keys; choose another name`);
      if (receivers.has(name)) return problem(`${at}.name`, `a receiver named "${name}" is already defined`);
      const slack = stringList(entry.slack_channels, `${at}.slack_channels`);
      const email = stringList(entry.email_to, `${at}.email_to`);
      const pdEnv = stringList(entry.pagerduty_keys_env, `${at}.pagerduty_keys_env`);
      const webhooks = stringList(entry.webhook_urls, `${at}.webhook_urls`);
      if (slack.length > 0 && !defaults.slack_enabled) problem(`${at}.slack_channels`, 'notifications.slack_enabled is false');
      if (email.length > 0 && !defaults.email_enabled) problem(`${at}.email_to`, 'notifications.email_enabled is false');
      email.forEach((address, j) => {
        if (!/^[^\s@<>]+@[^\s@<>]+$/.test(address)) problem(`${at}.email_to[${j}]`, `"${address}" is not an email address`);
      });
      if (pdEnv.length > 0 && !defaults.pagerduty_enabled) problem(`${at}.pagerduty_keys_env`, 'notifications.pagerduty_enabled is false');
      const pagerduty: PagerDutyTarget[] = [];
      pdEnv.forEach((variable, j) => {
        const value = env[variable]?.trim();
        if (!value) return problem(`${at}.pagerduty_keys_env[${j}]`, `the environment variable ${variable} is not set`);
        pagerdutyKeys.set(variable, value);
        pagerduty.push({ target: variable === defaultPd ? DEFAULT_PAGERDUTY_TARGET : `env:${variable}`, env: variable });
      });
      if (webhooks.length > 0 && !defaults.webhook_enabled) problem(`${at}.webhook_urls`, 'notifications.webhook_enabled is false');
      webhooks.forEach((url, j) => {
        if (!/^https?:\/\/[^/]/i.test(url)) problem(`${at}.webhook_urls[${j}]`, 'must be an http(s) URL');
      });
      if (slack.length + email.length + pdEnv.length + webhooks.length === 0) {
        problem(at, `receiver "${name}" has no targets (slack_channels, email_to, pagerduty_keys_env or webhook_urls)`);
      }
      receivers.set(name, { name, slack_channels: slack, email_to: email, pagerduty, webhook_urls: webhooks });
    });
  if (defaults.pagerduty_enabled && env[defaultPd]?.trim()) pagerdutyKeys.set(defaultPd, env[defaultPd].trim());

  const receiverRef = (value: unknown, key: string): string | undefined => {
    const name = text(value, key);
    if (name === undefined) return undefined;
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
          const receiver = receiverRef(step.receiver, `${sat}.receiver`);
          if (step.receiver === undefined) problem(`${sat}.receiver`, 'every step needs a receiver');
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
        matchers.push(...parseMatchers(written));
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
  if (problems.length > 0) return { problems };
  return { routing: { receivers, policies, root, pagerduty_keys: pagerdutyKeys }, problems };
}
