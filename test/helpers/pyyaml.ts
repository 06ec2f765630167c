import { spawnSync } from 'node:child_process';

/**
 * PyYAML's safe_load, which pushsource reads staged metadata with, as the oracle of the YAML
 * tests: each text's value as JSON (a value JSON has no form for as {"$repr": repr(value)}), or
 * {"$error": the exception's class name} when PyYAML refuses it. null when no python3 here has
 * PyYAML (the tests then rely on the answers they state, which are PyYAML 6's).
 */
export function pyyamlLoad(texts: string[]): unknown[] | null {
  const script = `
import json, sys, yaml
def plain(v):
    if isinstance(v, dict): return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, list): return [plain(x) for x in v]
    if v is None or isinstance(v, (bool, int, str)) or (isinstance(v, float) and v == v and abs(v) != float('inf')): return v
    return {'$repr': repr(v)}
out = []
for text in json.load(sys.stdin):
    try:
        out.append(plain(yaml.safe_load(text)))
    except yaml.YAMLError as e:
        out.append({'$error': type(e).__name__})
print(json.dumps(out))
`;
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, ['-c', script], { input: JSON.stringify(texts), encoding: 'utf8' });
    if (r.status === 0) return JSON.parse(r.stdout) as unknown[];
  }
  return null;
}
