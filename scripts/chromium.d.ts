/** Debian's Chromium, as the browser tests and bench/console-list.js start it (scripts/chromium.js). */
export const CHROMIUM: string;
export function chromiumLaunchOptions(
  userDataDir: string,
  extraArgs?: string[],
): { executablePath: string; headless: boolean; userDataDir: string; args: string[] };
