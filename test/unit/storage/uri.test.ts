import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadKey } from '../../../src/storage/keys.js';
import { LocalPathError, resolveLocalPath, type LocalPathErrorCode } from '../../../src/storage/local-path.js';
import { StorageUriError, parseInputUri } from '../../../src/storage/uri.js';

const UUID = '0190b6a4-7c3e-7d2a-9f1b-2c3d4e5f6a7b';

/*
 * base/
 *   root/                    the configured storage root
 *     media/clip.mp4
 *     media/sub/             a directory
 *     %2e%2e/secret.mp4      a directory literally named %2e%2e: encoded names are refused even when they exist
 *     link-inside  -> root/media/clip.mp4
 *     link-outside -> outside/secret.mp4
 *     dir-outside  -> outside/
 *     dangling     -> outside/missing.mp4
 *     dir-missing  -> outside/no-such-dir/
 *     link-to-dir  -> outside/            (a directory, not a file)
 *     link-to-loop -> outside/loop        (outside/loop -> outside/loop)
 *     loop-a -> loop-b -> loop-a
 *   root-link -> root        a root configured through a symlink
 *   root-evil/secret.mp4     shares the root's name as a string prefix
 *   outside/secret.mp4
 */
let base: string;
let root: string;

beforeAll(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'ffedge-uri-')));
  root = join(base, 'root');
  await mkdir(join(root, 'media', 'sub'), { recursive: true });
  await mkdir(join(root, '%2e%2e'), { recursive: true });
  await mkdir(join(base, 'outside'), { recursive: true });
  await mkdir(join(base, 'root-evil'), { recursive: true });
  await writeFile(join(root, 'media', 'clip.mp4'), 'clip');
  await writeFile(join(root, '%2e%2e', 'secret.mp4'), 'encoded');
  await writeFile(join(base, 'outside', 'secret.mp4'), 'secret');
  await writeFile(join(base, 'root-evil', 'secret.mp4'), 'evil');
  await symlink(join(root, 'media', 'clip.mp4'), join(root, 'link-inside'));
  await symlink(join(base, 'outside', 'secret.mp4'), join(root, 'link-outside'));
  await symlink(join(base, 'outside'), join(root, 'dir-outside'));
  await symlink(join(base, 'outside', 'missing.mp4'), join(root, 'dangling'));
  await symlink(join(base, 'outside', 'no-such-dir'), join(root, 'dir-missing'));
  await symlink(join(base, 'outside'), join(root, 'link-to-dir'));
  await symlink(join(base, 'outside', 'loop'), join(base, 'outside', 'loop'));
  await symlink(join(base, 'outside', 'loop'), join(root, 'link-to-loop'));
  await symlink(join(root, 'loop-b'), join(root, 'loop-a'));
  await symlink(join(root, 'loop-a'), join(root, 'loop-b'));
  await symlink(root, join(base, 'root-link'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function refusal(promise: Promise<unknown>): Promise<LocalPathError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LocalPathError);
  const typed = error as LocalPathError;
  // Nothing about the server's file system reaches the client message.
  expect(typed.message).not.toContain(base);
  expect(typed.message).not.toContain('secret');
  expect(typed.message).not.toContain('/');
  return typed;
}

async function expectRefused(path: string, code: LocalPathErrorCode, against = root): Promise<void> {
  expect((await refusal(resolveLocalPath(against, path))).code, path).toBe(code);
}

function parseError(uri: string, schemes?: readonly ('upload' | 'local')[]): StorageUriError {
  let caught: unknown;
  try {
    parseInputUri(uri, schemes);
  } catch (error) {
    caught = error;
  }
  expect(caught, uri).toBeInstanceOf(StorageUriError);
  return caught as StorageUriError;
}

describe('resolveLocalPath', () => {
  it('audit #7: local paths are canonicalised before confinement; symlinks, .. and encoded tricks are refused', async () => {
    const clip = join(root, 'media', 'clip.mp4');
    // Allowed: relative, dotted, absolute inside, through an inside symlink, and through a symlinked root.
    expect(await resolveLocalPath(root, 'media/clip.mp4')).toBe(clip);
    expect(await resolveLocalPath(root, './media/./clip.mp4')).toBe(clip);
    expect(await resolveLocalPath(root, clip)).toBe(clip);
    expect(await resolveLocalPath(root, 'link-inside')).toBe(clip);
    expect(await resolveLocalPath(join(base, 'root-link'), 'media/clip.mp4')).toBe(clip);
    expect(await resolveLocalPath(join(base, 'root-link'), join(base, 'root-link', 'media', 'clip.mp4'))).toBe(clip);
    expect(await resolveLocalPath(join(base, 'root-link'), clip)).toBe(clip);

    // Symlinks inside the root that lead out of it: refused after canonicalisation, whatever they point at.
    await expectRefused('link-outside', 'NOT_FOUND');
    await expectRefused('dir-outside/secret.mp4', 'NOT_FOUND');
    await expectRefused('dangling', 'NOT_FOUND');
    await expectRefused('loop-a', 'NOT_FOUND');

    // `..` in any position, even one that would land back inside.
    await expectRefused('../outside/secret.mp4', 'INVALID_PATH');
    await expectRefused('media/../../outside/secret.mp4', 'INVALID_PATH');
    await expectRefused('media/../media/clip.mp4', 'INVALID_PATH');
    await expectRefused(`${root}/../outside/secret.mp4`, 'INVALID_PATH');

    // Encoded and platform tricks are refused as text, never decoded: not even when the literal name exists.
    await expectRefused('%2e%2e/secret.mp4', 'INVALID_PATH');
    await expectRefused('%2E%2E/outside/secret.mp4', 'INVALID_PATH');
    await expectRefused('..%2foutside/secret.mp4', 'INVALID_PATH');
    await expectRefused('media\\..\\..\\outside\\secret.mp4', 'INVALID_PATH');
    await expectRefused('media/clip.mp4\u0000.txt', 'INVALID_PATH');
    await expectRefused('media/\u202Eclip.mp4', 'INVALID_PATH');
    await expectRefused('', 'INVALID_PATH');
    await expectRefused('a/'.repeat(2000), 'INVALID_PATH');

    // Absolute paths elsewhere are refused without revealing whether they exist.
    await expectRefused('/etc/passwd', 'OUTSIDE_ROOT');
    await expectRefused(join(base, 'outside', 'secret.mp4'), 'OUTSIDE_ROOT');
    await expectRefused(join(base, 'outside', 'no-such-file.mp4'), 'OUTSIDE_ROOT');
    await expectRefused(join(base, 'root-evil', 'secret.mp4'), 'OUTSIDE_ROOT');

    // The root itself and anything that is not a regular file.
    await expectRefused('.', 'NOT_FOUND');
    await expectRefused(root, 'OUTSIDE_ROOT'); // decided from the text: an absolute path not strictly under the root
    await expectRefused('media/sub', 'NOT_A_FILE');
    await expectRefused('media/missing.mp4', 'NOT_FOUND');
    await expectRefused('media/clip.mp4/inner', 'NOT_FOUND');
  });

  it('audit #7: a symlink out of the root answers the same whether what it points at exists or not', async () => {
    // Existing file, missing file, existing directory, missing directory, a loop: all outside the root.
    const answers = [];
    for (const path of ['link-outside', 'dangling', 'dir-outside/secret.mp4', 'dir-outside/missing.mp4', 'link-to-dir', 'dir-missing/x.mp4', 'link-to-loop']) {
      const { code, message } = await refusal(resolveLocalPath(root, path));
      answers.push({ path, code, message });
    }
    const first = answers[0]!;
    for (const answer of answers) expect(answer, answer.path).toEqual({ ...first, path: answer.path });
    // And it is the answer for a plain missing file inside the root: nothing tells the outside apart.
    expect((await refusal(resolveLocalPath(root, 'media/missing.mp4'))).message).toBe(first.message);
  });

  it('keeps the file-system cause for server logs only', async () => {
    const error = await refusal(resolveLocalPath(root, 'media/missing.mp4'));
    expect(error.message).toBe('the local input does not exist under the storage root');
    expect(String((error.cause as Error).message)).toContain('missing.mp4');
  });

  it('reports an unusable root without naming it', async () => {
    expect((await refusal(resolveLocalPath(join(base, 'no-root'), 'media/clip.mp4'))).code).toBe('ROOT_UNAVAILABLE');
  });
});

describe('parseInputUri', () => {
  it('audit #34: storage URIs are parsed per scheme into typed locations', async () => {
    expect(parseInputUri(`upload:${UUID}`)).toEqual({ kind: 'upload', id: UUID, key: `uploads/${UUID}` });
    expect(parseInputUri(`upload:${UUID.toUpperCase()}`)).toEqual({ kind: 'upload', id: UUID, key: uploadKey(UUID) });
    expect(parseInputUri(`UPLOAD:${UUID}`)).toEqual({ kind: 'upload', id: UUID, key: uploadKey(UUID) });
    expect(parseInputUri('local:media/clip.mp4')).toEqual({ kind: 'local', path: 'media/clip.mp4' });

    // Other backends' schemes are not inputs: they can never be confused with a local path or an upload.
    for (const uri of [
      's3://bucket/uploads/x',
      'r2://bucket/key',
      'file:///etc/passwd',
      'https://example.com/a.mp4',
      'http://127.0.0.1/admin',
      'javascript:alert(1)',
      'data:video/mp4;base64,AAAA',
      'uploads/' + UUID,
      '/etc/passwd',
      './media/clip.mp4',
      ':upload:x',
      'uploadx:' + UUID,
    ]) {
      const error = parseError(uri);
      expect(error.code, uri).toBe('UNSUPPORTED_SCHEME');
      expect(error.allowedSchemes).toEqual(['upload:', 'local:']);
      expect(error.message).toBe('input URI scheme is not supported; allowed: upload:, local:');
    }

    // Malformed values of a known scheme.
    for (const uri of [
      'upload:',
      'upload:../x',
      'upload:not-a-uuid',
      `upload:${UUID}/../x`,
      `upload://${UUID}`,
      `upload:${UUID} `,
      `upload:${UUID.slice(0, -1)}`,
      'local:',
      'local://etc/passwd',
      'local:../x',
      'local:media/../../x',
      'local:%2e%2e/%2e%2e/etc/passwd',
      'local:media%2Fclip.mp4',
      'local:C:\\Windows\\win.ini',
      'local:media/clip.mp4\u0000',
      'local:media/\nclip.mp4',
      'local:media/\u007Fclip.mp4',
      'local:media/\u0085clip.mp4',
      'local:media/\u202Eclip.mp4',
      `local:${'a'.repeat(3000)}`,
      '',
    ]) {
      const error = parseError(uri);
      expect(error.code, JSON.stringify(uri)).toBe('INVALID_URI');
      // The message is written for the client and never echoes its input.
      expect(error.message.length).toBeLessThan(120);
      if (uri.length > 8) expect(error.message).not.toContain(uri.slice(6));
    }

    // An absolute local path parses, and confinement then refuses it when it lies outside the root.
    const location = parseInputUri('local:/etc/passwd');
    expect(location).toEqual({ kind: 'local', path: '/etc/passwd' });
    if (location.kind !== 'local') throw new Error('unreachable');
    expect((await refusal(resolveLocalPath(root, location.path))).code).toBe('OUTSIDE_ROOT');

    // A deployment without a local root accepts uploads only, and says so.
    const narrowed = parseError('local:media/clip.mp4', ['upload']);
    expect(narrowed.code).toBe('UNSUPPORTED_SCHEME');
    expect(narrowed.allowedSchemes).toEqual(['upload:']);
    expect(parseInputUri(`upload:${UUID}`, ['upload']).kind).toBe('upload');
  });
});
