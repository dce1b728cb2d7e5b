/**
 * The per-process parent of a host's run dirs: each process works in `<parent>/<pid>-<random>`, so the next process
 * on the host can tell what a dead one (SIGKILL, power loss) left behind. Claiming a dir first ends the processes
 * still running in a dead one's dirs (an ffmpeg that outlived its owner where the parent-death signal could not be
 * set), then removes those dirs (audit #4), so a restarted server never has two ffmpegs writing one job.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { killOrphans } from './native.js';

export async function claimProcessDir(parent: string): Promise<{ dir: string; orphansKilled: number; removed: number }> {
  await mkdir(parent, { recursive: true });
  let orphansKilled = 0;
  let removed = 0;
  for (const entry of await readdir(parent)) {
    const pid = Number(/^(\d+)-/.exec(entry)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    const dead = join(parent, entry);
    orphansKilled += await killOrphans(dead);
    await rm(dead, { recursive: true, force: true });
    removed += 1;
  }
  return { dir: await mkdtemp(join(parent, `${process.pid}-`)), orphansKilled, removed };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
