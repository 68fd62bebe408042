import { readFileSync } from 'node:fs';
import type { ConfigProblem } from './config.loader';

type Env = Record<string, string | undefined>;

/**
 * Secrets from files, as container platforms hand them over (Docker and Compose secrets under
 * /run/secrets, Kubernetes secret volumes): for a variable `NAME_FILE` whose `NAME` is not set,
 * `NAME` takes the file's content, without its trailing newline. So every variable the
 * configuration names for a secret (SLACK_BOT_TOKEN, DATABASE_URL, LLM_IM_BOOTSTRAP_KEY, …) can
 * come from a file. A variable set directly wins; a file that cannot be read is a problem naming
 * the variable (never the content), which stops startup.
 */
export function withFileSecrets(env: Env): { env: Env; problems: ConfigProblem[] } {
  const out: Env = { ...env };
  const problems: ConfigProblem[] = [];
  for (const [name, path] of Object.entries(env)) {
    if (!name.endsWith('_FILE') || name.length <= '_FILE'.length || !path) continue;
    const target = name.slice(0, -'_FILE'.length);
    if (env[target] !== undefined && env[target] !== '') continue;
    try {
      out[target] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      problems.push({ key: name, message: `${target} is to be read from ${path}, which cannot be read (${reason})` });
    }
  }
  return { env: out, problems };
}
