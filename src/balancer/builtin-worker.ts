// Entry point of a built-in balancer worker process (forked by WorkerPool through node:cluster).
import { runBalancerWorker } from './workers.js';

runBalancerWorker();
