/**
 * The routing from the command line, without a running service or a store (like `amtool config
 * routes`): `show` prints the tree, `test` answers which routes and receivers a set of fields and
 * labels reaches, and why. Reads CONFIG_PATH (default config/default.toml) and the environment.
 * The secrets need not be set: a target whose variable is not set is shown as `(unset)` and the
 * variable listed on stderr (the service itself does not start without it). Warnings about the
 * configuration (a severity matcher that can't match P0–P4) go to stderr too.
 *
 *   npm run routes -- show
 *   npm run routes -- test severity=P1 team=payments affected_resources=db-main,api
 */
import { displayUrl } from '../common/display-url';
import { ConfigError, readConfig } from '../config/config.loader';
import { formatDuration } from './duration';
import { explainRouting } from './explain';
import type { MatchSubject } from './matchers';
import type { Receiver, Route, Routing } from './routing-config';

function subjectFrom(args: string[]): MatchSubject {
  const subject: MatchSubject & { labels: Record<string, string> } = { severity: '', source: '', incident_type: '', affected_resources: [], labels: {} };
  for (const arg of args) {
    const at = arg.indexOf('=');
    if (at <= 0) throw new Error(`"${arg}" is not name=value`);
    const name = arg.slice(0, at);
    const value = arg.slice(at + 1);
    if (name === 'severity' || name === 'source' || name === 'incident_type') subject[name] = value;
    else if (name === 'affected_resources') subject.affected_resources = value.split(',').filter((v) => v !== '');
    else subject.labels[name] = value;
  }
  return subject;
}

function printTree(route: Route, depth = 0): void {
  const pad = '  '.repeat(depth);
  const parts = [
    // One pair of braces around them all, also when an entry is written in braces itself.
    route.matcher_text.length > 0
      ? `{${route.matcher_text
          .map((text) =>
            text
              .trim()
              .replace(/^\{([^]*)\}$/, '$1')
              .trim(),
          )
          .join(', ')}}`
      : depth === 0
        ? '(every incident)'
        : '',
    `receiver: ${route.receiver}`,
    route.escalation ? `escalation: ${route.escalation}` : '',
    route.repeat_interval_ms ? `repeat: ${formatDuration(route.repeat_interval_ms)}` : '',
    route.continue ? 'continue' : '',
  ].filter((p) => p !== '');
  process.stdout.write(`${pad}${route.id}  ${parts.join('  ')}\n`);
  for (const child of route.routes) printTree(child, depth + 1);
}

/** A receiver's targets, PagerDuty's as the variable's name, marked when it is not set. */
function targetsOf(receiver: Receiver, routing: Routing): string {
  // Resolved when notified, from the store: the CLI reads only the configuration.
  if (receiver.person)
    return receiver.person.kind === 'schedule' ? `whoever is on call in schedule ${receiver.person.ref}` : `${receiver.person.kind} ${receiver.person.ref}`;
  const parts = [
    receiver.slack_channels.length > 0 ? `slack ${receiver.slack_channels.join(', ')}` : '',
    receiver.email_to.length > 0 ? `email ${receiver.email_to.join(', ')}` : '',
    receiver.pagerduty.length > 0
      ? `pagerduty ${receiver.pagerduty.map((p) => `env:${p.env}${routing.pagerduty_keys.has(p.env) ? '' : ' (unset)'}`).join(', ')}`
      : '',
    receiver.webhook_urls.length > 0 ? `webhook ${receiver.webhook_urls.map(displayUrl).join(', ')}` : '',
    receiver.teams.length > 0 ? `teams ${receiver.teams.map((t) => `env:${t.env}${routing.teams_urls.has(t.env) ? '' : ' (unset)'}`).join(', ')}` : '',
  ].filter((p) => p !== '');
  return parts.length > 0 ? parts.join('  ') : '(no targets)';
}

function main(argv: string[]): number {
  const [command, ...rest] = argv;
  if (command !== 'show' && command !== 'test') {
    process.stderr.write('usage: npm run routes -- show | test [name=value ...]\n');
    return 2;
  }
  const subject = command === 'test' ? subjectFrom(rest) : undefined;
  const { config, unset } = readConfig(process.env, { secrets: 'optional' });
  const { routing } = config;
  for (const warning of routing.warnings) process.stderr.write(`warning: ${warning.key}: ${warning.message}\n`);
  for (const missing of unset) process.stderr.write(`unset: ${missing.key}: ${missing.message} (the service does not start without it)\n`);
  if (subject === undefined) {
    printTree(routing.root);
    process.stdout.write('\nreceivers:\n');
    for (const receiver of routing.receivers.values()) process.stdout.write(`  ${receiver.name}  ${targetsOf(receiver, routing)}\n`);
    return 0;
  }
  const explanation = explainRouting(routing, subject);
  for (const visit of explanation.visits) {
    const why = visit.matchers.map((m) => `${m.matcher} ${m.matched ? 'holds' : 'fails'} (saw ${JSON.stringify(m.values)})`).join('; ');
    process.stdout.write(`${visit.matched ? 'match ' : 'skip  '} ${visit.route}${why ? `: ${why}` : ''}\n`);
  }
  process.stdout.write('\n');
  for (const reached of explanation.routes) {
    process.stdout.write(`${reached.route} → ${reached.receiver.name}  ${targetsOf(routing.receivers.get(reached.receiver.name)!, routing)}\n`);
    if (reached.escalation) {
      const steps = reached.escalation.steps.map((s) => `after ${s.after} ${s.receiver.name}`).join(', ');
      process.stdout.write(
        `  escalation ${reached.escalation.policy}: ${steps}${reached.escalation.repeat > 0 ? `, repeated ${reached.escalation.repeat}×` : ''}\n`,
      );
    }
  }
  process.stdout.write(`\n${explanation.routes.map((r) => r.receiver.name).join(',')}\n`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
  process.exitCode = 2;
}
