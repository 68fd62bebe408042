import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError, ConfigProblem } from '../config/config.loader';
import type { AppConfig } from '../config/config.schema';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/**
 * The PEM certificate and key from `server.tls_cert_path` / `server.tls_key_path`, or undefined
 * when TLS is off. Checked here, before any listener is built, so that a wrong file stops startup
 * with a ConfigError naming the key rather than with an OpenSSL stack trace from deep inside
 * the HTTP or gRPC server.
 */
export function readTlsFiles(server: AppConfig['server']): TlsFiles | undefined {
  if (server.tls_cert_path === '' && server.tls_key_path === '') return undefined;
  const problems: ConfigProblem[] = [];
  const read = (key: string, path: string, parse: (pem: Buffer) => unknown, what: string): Buffer | undefined => {
    let pem: Buffer;
    try {
      pem = readFileSync(path);
    } catch (err) {
      problems.push({ key, message: `cannot read ${path}: ${(err as Error).message}` });
      return undefined;
    }
    try {
      parse(pem);
      return pem;
    } catch (err) {
      problems.push({ key, message: `${path} does not hold a PEM ${what}: ${(err as Error).message}` });
      return undefined;
    }
  };
  const cert = read('server.tls_cert_path', server.tls_cert_path, (pem) => new X509Certificate(pem), 'certificate');
  // An encrypted key fails here too ("passphrase required"): the service has no key passphrase.
  const key = read('server.tls_key_path', server.tls_key_path, (pem) => createPrivateKey(pem), 'private key');
  if (cert && key) {
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      problems.push({
        key: 'server.tls_key_path',
        message: `${server.tls_key_path} is not the key of the certificate in ${server.tls_cert_path}: ${(err as Error).message}`,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { cert: cert as Buffer, key: key as Buffer };
}
