// One demo instance: subscribes to the governance center and reports, as JSON lines on stdout,
// every rule it applies or rejects. The demo runner starts several and prints what they say.
import { createMesh } from 'meshless';

const name = process.env.DEMO_INSTANCE ?? `instance-${process.pid}`;
const mesh = await createMesh({
  consul: { address: process.env.CONSUL_HTTP_ADDR },
  prefix: process.env.DEMO_PREFIX ?? 'meshless',
  cacheDir: process.env.DEMO_CACHE_DIR ?? false,
  logger: 'silent',
});

const say = (event: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ instance: name, ...event })}\n`);

mesh.rules.onDidChange((c) =>
  say({ event: c.value === undefined ? 'deleted' : 'applied', key: c.key, index: c.index, value: c.value }),
);
mesh.rules.onDidReject((e) => say({ event: 'rejected', key: e.key, path: e.path, message: e.message }));
say({ event: 'ready', status: mesh.status().rules });

const stop = async () => {
  await mesh.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
