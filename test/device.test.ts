import { describe, expect, it } from 'vitest';
import { DeviceError, destroyDevice, deviceInfo, getDevice, ones, tensor } from '../src/index.js';

async function waitForLoss(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      deviceInfo();
    } catch (e) {
      if (e instanceof DeviceError) return;
      throw e;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the device was not reported lost');
}

describe('device', () => {
  it('requests the adapter maximum compute limits', async () => {
    const info = deviceInfo();
    expect(info.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect((await getDevice()).limits.maxComputeInvocationsPerWorkgroup).toBe(
      info.limits.maxComputeInvocationsPerWorkgroup,
    );
  });

  it('reports device loss as DeviceError with advice, and getDevice() creates a new device', async () => {
    const old = tensor([1, 2, 3]);
    destroyDevice();
    await waitForLoss();
    expect(() => ones([2])).toThrow(DeviceError);
    expect(() => ones([2])).toThrow(/lost.*getDevice/);
    const dev = await getDevice();
    expect(dev).toBeDefined();
    expect(Array.from(await ones([2]).data())).toEqual([1, 1]);
    // Tensors of the lost device cannot be used on the new one.
    await expect(old.data()).rejects.toThrow(/lost or replaced/);
    old.dispose();
  });
});
