/** The Linux x64 executable run natively: the baseline the emulated targets are compared to. */
import { describe } from 'vitest';
import { agentSuite } from './agent-suite.ts';
import { buildTarget, nativePlatform } from './emulators.ts';

describe('linux-x64, native', () => {
  agentSuite(() => nativePlatform(buildTarget('linux-x64').exe));
});
