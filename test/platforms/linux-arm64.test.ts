/** The Linux arm64 executable (pinned Node 24) under qemu-user. */
import { describe } from 'vitest';
import { agentSuite } from './agent-suite.ts';
import { buildTarget, qemuPlatform } from './emulators.ts';

describe('linux-arm64, under qemu', () => {
  agentSuite(() => qemuPlatform(buildTarget('linux-arm64').exe));
});
