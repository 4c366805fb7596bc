/**
 * CPU time of processes, from the scheduler's own accounting.
 *
 * `/proc/<pid>/stat`'s utime/stime are sampled at each timer tick on this kernel
 * (CONFIG_TICK_CPU_ACCOUNTING, HZ 250): the task running when the tick fires is charged the whole
 * tick. A process that wakes for a millisecond in step with the tick (a heartbeat answered when a
 * timer fires) is charged several times what it ran: an idle agent showed 0.5–0.9 % of a core there
 * while `perf stat -e task-clock` measured 0.09 %. `/proc/<pid>/task/<tid>/schedstat` holds each
 * thread's exact run time in ns (CFS `sum_exec_runtime`), which agrees with perf.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { processChildren, procStatFields } from './descendants.ts';

/** Clock ticks per second of /proc's tick counts (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** ms the process's threads have run (exact: the sum of their schedstat run times); 0 if gone. */
export function processCpuMs(pid: number): number {
  let ns = 0;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tids) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended while listing
    }
  }
  return ns / 1e6;
}

/**
 * CPU time (ms) of a process and the processes it started: its own threads and its live
 * descendants exactly, plus what its children that have ended used (their waited-for ticks, the
 * only record the kernel keeps of them; they run in bursts, which ticks sample fairly).
 */
export function processTreeCpuMs(pid: number): { total: number; own: number } {
  const children = processChildren();
  const own = processCpuMs(pid);
  const fields = procStatFields(pid);
  const reapedMs = fields ? ((Number(fields[13]) + Number(fields[14])) * 1000) / USER_HZ : 0;
  let total = own + reapedMs;
  const visit = (p: number) => {
    for (const c of children.get(p) ?? []) {
      total += processCpuMs(c.pid);
      visit(c.pid);
    }
  };
  visit(pid);
  return { total, own };
}
