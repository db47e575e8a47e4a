import type { DeviceAssignment } from '@grokmap/plugin-sdk';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendChoice } from './params.js';

export type BackendName = Exclude<BackendChoice, 'auto'>;

/**
 * TensorFlow.js keeps one active backend per process. Trials in the same
 * process share it: a trial may start on the active backend at any time, and
 * may switch it only while no other trial holds it.
 */
let active: { name: BackendName; holders: number } | null = null;
let switching: Promise<unknown> = Promise.resolve();

/** Loads a TensorFlow (libtensorflow) binding; any failure means "not available". */
async function loadNode(gpu: boolean): Promise<boolean> {
  // The names are variables so bundlers and the type checker do not insist on
  // optional packages; pnpm may keep a broken copy whose import throws any Error.
  const moduleName = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  try {
    await import(moduleName);
    return tf.findBackend('tensorflow') !== undefined && tf.findBackend('tensorflow') !== null;
  } catch {
    return false;
  }
}

async function tryBackend(name: BackendName): Promise<boolean> {
  try {
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    else if (name === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
    else if (!(await loadNode(name === 'tensorflow-gpu'))) return false;
    const registered = name === 'tensorflow-gpu' ? 'tensorflow' : name;
    return await tf.setBackend(registered);
  } catch {
    return false;
  }
}

function candidates(choice: BackendChoice, device: DeviceAssignment): BackendName[] {
  if (choice !== 'auto') return [choice];
  return device.kind === 'gpu'
    ? ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']
    : ['tensorflow', 'wasm', 'cpu'];
}

export interface BackendLease {
  name: BackendName;
  release(): void;
}

/**
 * Activate a backend for one trial. `auto` takes the first that works
 * (libtensorflow on GPU or CPU, then wasm, then the plain JS cpu backend);
 * an explicit choice that cannot load is an error naming it.
 */
export async function acquireBackend(choice: BackendChoice, device: DeviceAssignment): Promise<BackendLease> {
  const run = switching.then(async (): Promise<BackendLease> => {
    const wanted = candidates(choice, device);
    if (active && active.holders > 0) {
      if (!wanted.includes(active.name)) {
        throw new Error(
          `backend ${choice} requested while another trial in this process holds ${active.name}; ` +
            'run trials with different backends in separate processes',
        );
      }
      active.holders++;
      return lease(active);
    }
    for (const name of wanted) {
      if (await tryBackend(name)) {
        tf.enableProdMode();
        await tf.ready();
        active = { name, holders: 1 };
        return lease(active);
      }
    }
    throw new Error(`no usable TensorFlow.js backend among: ${wanted.join(', ')}`);
  });
  switching = run.catch(() => undefined);
  return run;
}

function lease(holder: { name: BackendName; holders: number }): BackendLease {
  let released = false;
  return {
    name: holder.name,
    release() {
      if (released) return;
      released = true;
      holder.holders--;
    },
  };
}
