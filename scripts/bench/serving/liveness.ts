/**
 * Event-loop delay as users and orchestrators see it: GET /healthz/live (or /healthz/live on the
 * peer) polled every 20 ms by this separate process while the load runs. A server whose event loop
 * is held (say by a synchronous inference) answers late; the latency of each probe is the figure.
 * Runs until SIGTERM (or --seconds), then answers.
 *
 *   node dist/scripts/bench/serving/liveness.js --url http://127.0.0.1:PORT [--every 20] [--seconds S]
 * Answers RESULT {probes, p50, p99, max} (ms)
 */
import http from 'node:http';
import { answer, args, quantile } from '../common';

const a = args();
const every = Number(a.every ?? 20);
const url = new URL('/healthz/live', a.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const latencies: number[] = [];
let stopped = false;
let inFlightSince: number | undefined;

function probe(): void {
  if (stopped) return;
  const t = performance.now();
  inFlightSince = t;
  const req = http.get(url, { agent }, (res) => {
    res.resume();
    res.on('end', () => {
      const ms = performance.now() - t;
      inFlightSince = undefined;
      latencies.push(ms);
      setTimeout(probe, Math.max(0, every - ms));
    });
  });
  req.on('error', () => setTimeout(probe, every));
}

function finish(): void {
  if (stopped) return;
  stopped = true;
  // A probe still unanswered counts with the time it has waited so far.
  if (inFlightSince !== undefined) latencies.push(performance.now() - inFlightSince);
  const s = [...latencies].sort((x, y) => x - y);
  answer({ probes: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1] ?? NaN });
  process.exit(0);
}

process.on('SIGTERM', finish);
if (a.seconds) setTimeout(finish, Number(a.seconds) * 1000);
probe();
