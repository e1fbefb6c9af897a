// One measured point of a closed-loop load: `concurrency` callers sharing a fixed count of
// requests, stopped at a time cap (whichever first), tallying req/s, latencies, errors and the
// CPU of this process and of two others (a server process, a proxy) into the subject.
export interface LoadSubject {
  name: string;
  call: () => Promise<void>;
  /** Latencies (ms) of every recorded point. */
  latencies: number[];
  /** Requests/s of each recorded point. */
  rps: number[];
  errors: number;
  requests: number;
  /** CPU over the recorded points, µs: this process, the server's process, the proxy's. */
  benchCpuUs: number;
  serverCpuUs: number;
  proxyCpuUs: number;
}

export type Tallies = Omit<LoadSubject, 'name' | 'call'>;

export function freshTallies(): Tallies {
  return { latencies: [], rps: [], errors: 0, requests: 0, benchCpuUs: 0, serverCpuUs: 0, proxyCpuUs: 0 };
}

export interface PointOptions {
  concurrency: number;
  count: number;
  capMs: number;
  /** False for a warm-up: run, tally nothing. */
  record: boolean;
  /** Cumulative CPU µs of the server's and the proxy's processes (0 where unknown). */
  serverCpuUs: () => number;
  proxyCpuUs: () => number;
}

export async function runPoint(s: LoadSubject, o: PointOptions): Promise<void> {
  const cpu = process.cpuUsage();
  const serverCpu = o.serverCpuUs();
  const proxyCpu = o.proxyCpuUs();
  const started = performance.now();
  const end = started + o.capMs;
  let issued = 0;
  let done = 0;
  let errors = 0;
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (issued < o.count && performance.now() < end) {
        issued++;
        const t = performance.now();
        try {
          await s.call();
          latencies.push(performance.now() - t);
          done++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = performance.now() - started;
  if (!o.record) return;
  const used = process.cpuUsage(cpu);
  s.benchCpuUs += used.user + used.system;
  s.serverCpuUs += o.serverCpuUs() - serverCpu;
  s.proxyCpuUs += o.proxyCpuUs() - proxyCpu;
  s.rps.push(done / (elapsed / 1000));
  s.requests += done;
  s.errors += errors;
  for (const l of latencies) s.latencies.push(l);
}
