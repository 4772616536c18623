import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds of each live thread of this process (Linux /proc), keyed `tid name`. */
export function threadCpu(): Map<string, number> {
  const m = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return m;
  }
  for (const tid of tids) {
    try {
      const st = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      // utime and stime (fields 14 and 15 of stat), in clock ticks of 1/100 s (USER_HZ on Linux).
      m.set(`${tid} ${comm}`, (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return m;
}
