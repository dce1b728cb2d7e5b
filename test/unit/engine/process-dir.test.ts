/**
 * A process's workspace dir (src/engine/process-dir.ts): claiming one ends the processes a dead process left
 * running in its dir (where no parent-death signal ended them: Deno, no setpriv) and removes that dir; the dirs of
 * live processes are left alone.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { supervisedStarts } from '../../../src/engine/native.js';
import { claimProcessDir } from '../../../src/engine/process-dir.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let parent: string;
afterEach(async () => rm(parent, { recursive: true, force: true }));

describe('process workspace dirs', () => {
  it('audit #4: claiming a dir ends what a dead process left running in its dir, and removes the dir', async () => {
    parent = await mkdtemp(join(tmpdir(), 'ffedge-procdir-'));
    // A live process's dir (this one's own, from an earlier claim) stays.
    const mine = await claimProcessDir(parent);
    // A pid that is surely dead: a process that has exited.
    const gone = spawn('true');
    await new Promise((resolve) => gone.once('exit', resolve));
    const deadDir = join(parent, `${gone.pid}-abc123`, 'job-x');
    await mkdir(deadDir, { recursive: true });
    const orphan = spawn('sleep', ['60'], { cwd: deadDir, stdio: 'ignore' });
    const exited = new Promise((resolve) => orphan.once('exit', resolve));

    const claimed = await claimProcessDir(parent);
    expect(claimed.orphansKilled).toBe(1);
    await exited;
    expect(alive(orphan.pid!)).toBe(false);
    expect((await readdir(parent)).sort()).toEqual([mine.dir, claimed.dir].map((d) => d.slice(parent.length + 1)).sort());
  });

  it('starts native binaries under the parent-death signal on Linux under Node', async () => {
    expect(await supervisedStarts()).toBe(process.platform === 'linux');
  });
});
