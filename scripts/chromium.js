// Headless Chromium from Debian's `chromium` package, as the browser tests and the console
// benchmark start it. Without the background-networking flags Chromium keeps trying to reach
// Google's hosts, which this machine's closed network refuses, many at a time.
'use strict';

const CHROMIUM = '/usr/bin/chromium';

/** puppeteer-core's launch options: a fresh profile in `userDataDir`, and any `extraArgs`. */
function chromiumLaunchOptions(userDataDir, extraArgs = []) {
  return {
    executablePath: CHROMIUM,
    headless: true,
    userDataDir,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  };
}

module.exports = { CHROMIUM, chromiumLaunchOptions };
