import type { AppConfig } from './config.schema';
import type { ConfigProblem } from './config.loader';

type Env = Record<string, string | undefined>;

/** Channels that link back or take acknowledgements need a public URL and a link key; Twilio needs its account. */
export function phoneAndPushProblems(config: AppConfig, env: Env, unset?: ConfigProblem[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { server, notifications: n } = config;
  if (!server || !n) return problems;
  const linkKey = (server.link_secret_env && env[server.link_secret_env]?.trim()) || '';
  // Set but short: refused whatever is on (emails to people would carry weakly signed links).
  if (linkKey !== '' && linkKey.length < 32) {
    problems.push({ key: 'server.link_secret_env', message: `${server.link_secret_env} must hold a key of at least 32 characters` });
  }
  const on = (['sms', 'voice', 'ntfy', 'teams'] as const).filter((c) => n[`${c}_enabled`]);
  if (on.length === 0) return problems;
  const which = on.map((c) => `${c}_enabled`).join(', ');
  if (!server.public_url) {
    problems.push({ key: 'server.public_url', message: `${which} is on: set public_url, where people reach the service (links and callbacks go there)` });
  }
  // Push notifications carry an Acknowledge button: a signed link. (Texts and calls are answered by reply.)
  if (n.ntfy_enabled && linkKey === '') {
    (unset ?? problems).push({
      key: 'server.link_secret_env',
      message: `ntfy_enabled is on: the environment variable ${server.link_secret_env} must hold a key of at least 32 characters that signs acknowledgement links`,
    });
  }
  if (n.sms_enabled || n.voice_enabled) {
    if (!/^(AC[0-9a-f]{32}|[A-Za-z0-9_-]{1,64})$/.test(n.twilio_account_sid)) {
      problems.push({
        key: 'notifications.twilio_account_sid',
        message: "sms_enabled or voice_enabled is on: set the account SID (Twilio's is AC followed by 32 hex digits)",
      });
    }
    if (!/^\+[1-9]\d{6,14}$/.test(n.twilio_from_number)) {
      problems.push({
        key: 'notifications.twilio_from_number',
        message: 'sms_enabled or voice_enabled is on: set the number to send from, in E.164 form (+14155550100)',
      });
    }
    if (!/^https?:\/\/[^/]/i.test(n.twilio_api_url)) problems.push({ key: 'notifications.twilio_api_url', message: 'must be an http(s) URL' });
    if (!env[n.twilio_auth_token_env]?.trim()) {
      (unset ?? problems).push({
        key: 'notifications.twilio_auth_token_env',
        message: `sms_enabled or voice_enabled is on but the environment variable ${n.twilio_auth_token_env} (Twilio auth token) is not set`,
      });
    }
    const words = [...n.sms_ack_words, ...n.sms_resolve_words];
    if (n.sms_ack_words.length === 0 || n.sms_resolve_words.length === 0 || words.some((w) => !/^[A-Za-z]{1,16}$/.test(w))) {
      problems.push({ key: 'notifications.sms_ack_words', message: 'sms_ack_words and sms_resolve_words each need at least one word of letters only' });
    } else if (new Set(words.map((w) => w.toUpperCase())).size !== words.length) {
      problems.push({ key: 'notifications.sms_resolve_words', message: 'a word may not both acknowledge and resolve' });
    }
  }
  if (n.ntfy_enabled && !/^https?:\/\/[^/]/i.test(n.ntfy_server_url)) {
    problems.push({ key: 'notifications.ntfy_server_url', message: 'must be an http(s) URL, such as https://ntfy.example.com' });
  }
  if (n.teams_enabled) {
    const url = env[n.teams_webhook_env]?.trim() ?? '';
    if (!url) {
      (unset ?? problems).push({
        key: 'notifications.teams_webhook_env',
        message: `teams_enabled is on but the environment variable ${n.teams_webhook_env} (the Workflows webhook URL) is not set`,
      });
    } else if (!/^https?:\/\/[^/]/i.test(url)) {
      problems.push({ key: 'notifications.teams_webhook_env', message: `${n.teams_webhook_env} must hold an http(s) URL` });
    }
  }
  return problems;
}
