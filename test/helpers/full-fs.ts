/**
 * A real, small file system that fills up: a tmpfs of a few hundred KiB mounted on a temp dir, so writes fail with
 * the kernel's own ENOSPC. Mounting needs CAP_SYS_ADMIN (root in this sandbox); where it is refused the caller skips
 * and says so, rather than faking the error.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallFs {
  dir: string;
  unmount(): Promise<void>;
}

export async function mountSmallFs(bytes: number): Promise<SmallFs | null> {
  const dir = await mkdtemp(join(tmpdir(), 'ffedge-smallfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    await rm(dir, { recursive: true, force: true });
    return null;
  }
  return {
    dir,
    async unmount() {
      execFileSync('umount', [dir], { stdio: 'ignore' });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Whether this machine lets the tests mount one (probed once by each test file that needs it). */
export async function canMountSmallFs(): Promise<boolean> {
  const probe = await mountSmallFs(64 * 1024);
  await probe?.unmount();
  return probe !== null;
}
