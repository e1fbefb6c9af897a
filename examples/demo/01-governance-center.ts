// Chapter 1: the governance center. Two instances subscribe to the same rule; the operator writes
// versions of it (one of them invalid) and each instance reports what it applied or rejected.
import { color, type DemoConsul, type DemoProcess, log, startProcess } from './lib.ts';

const KEY = 'services/catalog/policies';

export async function governanceCenter(
  consul: DemoConsul,
  prefix: string,
  here: string,
): Promise<DemoProcess[]> {
  log(color.bold('\n1. The governance center: rules in Consul KV, applied live by every instance'));
  await consul.kv.delete(`${prefix}/`, { recurse: true });
  const instances = ['gateway-a', 'gateway-b'].map((name) =>
    startProcess(name, `${here}/subscriber.ts`, { CONSUL_HTTP_ADDR: consul.address, DEMO_PREFIX: prefix }),
  );
  await Promise.all(instances.map((p) => p.next((m) => m.event === 'ready')));
  log(`   two instances subscribed to ${color.cyan(`${prefix}/`)} (one blocking query each)`);

  const versions: { note: string; doc: string | object; expect: 'applied' | 'rejected' }[] = [
    { note: 'v1: a 300 ms timeout', doc: { timeoutMs: 300 }, expect: 'applied' },
    {
      note: 'v2: add 3 attempts with backoff',
      doc: { timeoutMs: 300, retry: { attempts: 3, backoff: { baseMs: 25 } } },
      expect: 'applied',
    },
    { note: 'v3: a typo, attempts: 0', doc: { timeoutMs: 300, retry: { attempts: 0 } }, expect: 'rejected' },
    { note: 'v4: broken YAML', doc: 'timeoutMs: 300\nretry: [attempts: 2', expect: 'rejected' },
    { note: 'v5: fixed, in YAML', doc: 'timeoutMs: 250\nretry:\n  attempts: 2\n', expect: 'applied' },
  ];
  for (const v of versions) {
    const waits = instances.map((p) => p.next((m) => m.event === v.expect && String(m.key).endsWith(KEY)));
    const started = performance.now();
    await consul.kv.put(`${prefix}/${KEY}`, v.doc);
    const results = await Promise.all(waits);
    const ms = (performance.now() - started).toFixed(1);
    log(`   PUT ${prefix}/${KEY}  ${color.dim(v.note)}`);
    results.forEach((r, i) => {
      const who = instances[i]!.name.padEnd(10);
      if (r.event === 'applied')
        log(`     ${who} ${color.green('applied')}  index ${r.index}  ${JSON.stringify(r.value)}`);
      else
        log(
          `     ${who} ${color.red('rejected')} ${r.message}  ${color.dim('(last good rule stays in force)')}`,
        );
    });
    log(color.dim(`     both instances reported within ${ms} ms of the write`));
  }
  const deleted = instances.map((p) => p.next((m) => m.event === 'deleted'));
  await consul.kv.delete(`${prefix}/${KEY}`);
  await Promise.all(deleted);
  log(`   DELETE ${prefix}/${KEY}  ${color.dim('-> both instances back on defaults')}`);
  return instances;
}
