/**
 * The routing from the command line, without a running service or a store (like `amtool config
 * routes`): `show` prints the tree, `test` answers which routes and receivers a set of fields and
 * labels reaches, and why. Reads CONFIG_PATH (default config/default.toml) and the environment.
 *
 *   npm run routes -- show
 *   npm run routes -- test severity=P1 team=payments affected_resources=db-main,api
 */
import { ConfigError, loadConfig } from '../config/config.loader';
import { formatDuration } from './duration';
import { explainRouting } from './explain';
import type { MatchSubject } from './matchers';
import type { Route } from './routing-config';

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
    route.matcher_text.length > 0 ? `{${route.matcher_text.join(', ')}}` : depth === 0 ? '(every incident)' : '',
    `receiver: ${route.receiver}`,
    route.escalation ? `escalation: ${route.escalation}` : '',
    route.repeat_interval_ms ? `repeat: ${formatDuration(route.repeat_interval_ms)}` : '',
    route.continue ? 'continue' : '',
  ].filter((p) => p !== '');
  process.stdout.write(`${pad}${route.id}  ${parts.join('  ')}\n`);
  for (const child of route.routes) printTree(child, depth + 1);
}

function main(argv: string[]): number {
  const [command, ...rest] = argv;
  const config = loadConfig(process.env);
  if (command === 'show') {
    printTree(config.routing.root);
    return 0;
  }
  if (command === 'test') {
    const explanation = explainRouting(config.routing, subjectFrom(rest));
    for (const visit of explanation.visits) {
      const why = visit.matchers.map((m) => `${m.matcher} ${m.matched ? 'holds' : 'fails'} (saw ${JSON.stringify(m.values)})`).join('; ');
      process.stdout.write(`${visit.matched ? 'match ' : 'skip  '} ${visit.route}${why ? `: ${why}` : ''}\n`);
    }
    process.stdout.write(`\n${explanation.routes.map((r) => r.receiver.name).join(',')}\n`);
    return 0;
  }
  process.stderr.write('usage: npm run routes -- show | test [name=value ...]\n');
  return 2;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
  process.exitCode = 2;
}
