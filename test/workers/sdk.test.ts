/** The SDK inside workerd: the portable suite against the real Node server that test/sdk/servers.setup.ts started. */
import { inject, it } from 'vitest';
import { sdkSuite } from '../sdk/suite.js';

const target = inject('sdkTarget');
const clip = Uint8Array.from(atob(target.clip), (c) => c.charCodeAt(0));

sdkSuite(it, () => ({ ...target, clip }));
