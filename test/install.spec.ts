/**
 * Install hygiene: every dependency with an install script is reviewed in package.json's
 * allowScripts (so npm 11 prints no warning on a fresh install), and @scarf/scarf — brought by
 * swagger-ui-dist, whose postinstall reports installs to a third party — never runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  allowScripts: Record<string, boolean>;
  scarfSettings: { enabled: boolean };
};
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };

/** `npm install` in a project of its own; the verbose log names every lifecycle script npm runs. */
function npmInstall(dir: string, manifest: object, env: Record<string, string> = {}): string {
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest));
  const result = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', '--loglevel=verbose'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  expect({ status: result.status, stderr: result.status === 0 ? '' : result.stderr }).toEqual({ status: 0, stderr: '' });
  return `${result.stdout}${result.stderr}`;
}

describe('npm install', () => {
  it('has every install script of the lock file reviewed in allowScripts: the three the build needs allowed, scarf denied', () => {
    const withScripts = [
      ...new Set(
        Object.entries(lock.packages)
          .filter(([, entry]) => entry.hasInstallScript)
          .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)),
      ),
    ].sort();
    expect(withScripts).toEqual(['@scarf/scarf', 'better-sqlite3', 'protobufjs', 're2']);
    expect(pkg.allowScripts).toEqual({ 'better-sqlite3': true, protobufjs: true, re2: true, '@scarf/scarf': false });
    // Scarf's own switch too, for an npm that does not know allowScripts (npm 10, on Node 20 images).
    expect(pkg.scarfSettings).toEqual({ enabled: false });
  }, 10_000);

  it('runs no script of @scarf/scarf from the registry, and prints no warning about unreviewed scripts; a package it may run is seen running', () => {
    const dir = mkdtempSync(join(tmpdir(), 'install-'));
    try {
      const denied = join(dir, 'denied');
      mkdirSync(denied);
      const version = (lock.packages['node_modules/@scarf/scarf'] as { version?: string }).version!;
      const log = npmInstall(denied, {
        name: 'scarf-check',
        version: '1.0.0',
        private: true,
        dependencies: { '@scarf/scarf': version },
        allowScripts: pkg.allowScripts,
        scarfSettings: pkg.scarfSettings,
      });
      expect(log).toMatch(/@scarf\/scarf/); // it was installed ...
      expect(log).not.toMatch(/npm info run @scarf\/scarf/); // ... and none of its scripts ran
      expect(log).not.toMatch(/not yet covered by allowScripts/);

      // The control: a package whose script npm does run shows up in the same log, and its script's effect is seen.
      const allowed = join(dir, 'allowed');
      mkdirSync(join(allowed, 'pkg'), { recursive: true });
      writeFileSync(
        join(allowed, 'pkg', 'package.json'),
        JSON.stringify({
          name: 'runs-a-script',
          version: '1.0.0',
          scripts: { postinstall: `node -e "require('fs').writeFileSync(process.env.MARKER, 'ran')"` },
        }),
      );
      const marker = join(dir, 'marker');
      const ran = npmInstall(
        allowed,
        { name: 'control', version: '1.0.0', private: true, dependencies: { 'runs-a-script': 'file:./pkg' } },
        { MARKER: marker },
      );
      expect(ran).toMatch(/npm info run runs-a-script@1\.0\.0 postinstall/);
      expect(readFileSync(marker, 'utf8')).toBe('ran');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
