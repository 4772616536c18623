import { currentDevice, deviceGeneration } from './device.js';
import { gpuWait } from './wait.js';

/**
 * Checks that kernels make on the GPU and that surface at the next readback, with no readback of
 * their own per dispatch: a kernel binds a check's 16-byte buffer (4 x i32, zeroed) and records a
 * problem there with atomics (word 0 counts the problems; words 1-3 describe the first). Each
 * `data()` that runs while a check is armed (a kernel bound it since the last read) copies the
 * check's words into its own staging buffer after the tensor's bytes and clears them, in the same
 * submit; `sync()` reads armed checks with one small copy. A non-zero count throws the check's error.
 * The sparse cross-entropy's label check (labels outside [0, classes)) is the first user.
 */

/** Words of one check, as the kernel wrote them. */
export type CheckWords = Readonly<Int32Array>;

interface Slot {
  readonly name: string;
  readonly describe: (words: CheckWords) => Error;
  buffer?: GPUBuffer;
  generation: number;
  armed: boolean;
}

const slots: Slot[] = [];
export const CHECK_BYTES = 16;

export interface GpuCheck {
  readonly name: string;
  /** The check's buffer, for a kernel about to be dispatched (arms the check). */
  binding(): { buffer: GPUBuffer; offset: number; size: number };
}

/** Declares a check (once, at module load). `describe` turns its words into the error to throw. */
export function defineGpuCheck(name: string, describe: (words: CheckWords) => Error): GpuCheck {
  const slot: Slot = { name, describe, generation: -1, armed: false };
  slots.push(slot);
  return {
    name,
    binding() {
      const gen = deviceGeneration();
      if (!slot.buffer || slot.generation !== gen) {
        // A new device: the old buffer went with the old one. New buffers are zeroed.
        slot.buffer = currentDevice().createBuffer({
          label: `check ${name}`,
          size: CHECK_BYTES,
          usage: 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08 /* COPY_DST */,
        });
        slot.generation = gen;
      }
      slot.armed = true;
      return { buffer: slot.buffer, offset: 0, size: CHECK_BYTES };
    },
  };
}

/** The armed checks of the current device, disarmed: the caller reads and clears them now. */
function takeArmed(): Slot[] {
  const gen = deviceGeneration();
  const armed = slots.filter((s) => s.armed && s.buffer && s.generation === gen);
  for (const s of slots) s.armed = false;
  return armed;
}

/**
 * @internal Records, into `enc`, copies of the armed checks' words to `staging` from byte `offset`
 * on (16 bytes each), then clears them. Returns what `raiseChecks` needs after the map.
 */
export function appendChecks(enc: GPUCommandEncoder, staging: GPUBuffer, offset: number): Slot[] {
  const armed = takeArmed();
  armed.forEach((s, k) => {
    enc.copyBufferToBuffer(s.buffer!, 0, staging, offset + k * CHECK_BYTES, CHECK_BYTES);
    enc.clearBuffer(s.buffer!, 0, CHECK_BYTES);
  });
  return armed;
}

/** @internal The staging bytes `appendChecks` needs for the checks armed now. */
export function armedCheckBytes(): number {
  const gen = deviceGeneration();
  return slots.filter((s) => s.armed && s.buffer && s.generation === gen).length * CHECK_BYTES;
}

/** @internal Throws the first check whose count is non-zero, from the words mapped at `offset`. */
export function raiseChecks(armed: readonly Slot[], mapped: ArrayBuffer, offset: number): void {
  armed.forEach((s, k) => {
    const words = new Int32Array(mapped.slice(offset + k * CHECK_BYTES, offset + (k + 1) * CHECK_BYTES));
    if (words[0] !== 0) throw s.describe(words);
  });
}

/** @internal Reads and clears the armed checks with one small copy (for `sync()`); throws as above. */
export async function readChecks(): Promise<void> {
  if (armedCheckBytes() === 0) return;
  const device = currentDevice();
  const enc = device.createCommandEncoder();
  const staging = device.createBuffer({
    size: armedCheckBytes(),
    usage: 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */,
  });
  const armed = appendChecks(enc, staging, 0);
  device.queue.submit([enc.finish()]);
  try {
    await gpuWait(() => staging.mapAsync(0x01 /* READ */));
    const mapped = staging.getMappedRange().slice(0);
    staging.unmap();
    raiseChecks(armed, mapped, 0);
  } finally {
    staging.destroy();
  }
}
