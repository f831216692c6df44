import { parse as parseYaml } from 'yaml';

/**
 * Certificate and key files that config.yml points at (keys like `sslcertfile`,
 * `sslcertkeyfile`, `sslcafile`): `ngcpcfg apply` fails on a node that lacks them, so a
 * backup must carry them wherever they live. Pure: takes the file's text.
 */
export function certificatePaths(configYml: string): string[] {
  const found = new Set<string>();
  const walk = (value: unknown, key: string): void => {
    if (typeof value === 'string') {
      if (/ssl|tls|cert|key/i.test(key) && /file$|certificate$|^ca_?file$|key$/i.test(key) && value.startsWith('/')) {
        found.add(value);
      }
    } else if (Array.isArray(value)) {
      value.forEach((v) => walk(v, key));
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, k);
    }
  };
  walk(parseYaml(configYml), '');
  return [...found].sort();
}
