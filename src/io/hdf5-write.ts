/**
 * Writing HDF5 (the `model.weights.h5` inside a `.keras` file) with h5wasm, the HDF5 C library compiled
 * to WebAssembly. Node only: saving is a Node feature, and h5wasm's 4 MB module stays out of the
 * browser bundle (reading uses jsfive, see hdf5.ts). Files are written with the earliest HDF5 format
 * version, which h5py, Keras and jsfive all read.
 */

/** A group to write: attributes (strings), float32 datasets and subgroups, in insertion order. */
export interface H5WriteGroup {
  attrs?: Record<string, string>;
  datasets?: Array<[string, { shape: number[]; data: Float32Array | Int32Array }]>;
  groups?: Array<[string, H5WriteGroup]>;
}

let counter = 0;

/** The bytes of an HDF5 file holding `root`. */
export async function writeHdf5(root: H5WriteGroup): Promise<Uint8Array> {
  const h5wasm = await import('h5wasm/node');
  const Module = await h5wasm.ready;
  const FS = Module.FS;
  const name = `/wgsl-nn-${process.pid}-${counter++}.h5`;
  const file = new h5wasm.File(name, 'w', { libver: ['earliest', 'v108'] });
  try {
    const fill = (g: InstanceType<typeof h5wasm.Group>, spec: H5WriteGroup) => {
      for (const [k, v] of Object.entries(spec.attrs ?? {})) g.create_attribute(k, v);
      for (const [k, d] of spec.datasets ?? []) {
        const dtype = d.data instanceof Int32Array ? '<i4' : '<f4';
        g.create_dataset({ name: k, data: d.data, shape: d.shape, dtype });
      }
      for (const [k, sub] of spec.groups ?? []) fill(g.create_group(k), sub);
    };
    fill(file, root);
  } finally {
    file.close();
  }
  try {
    return FS.readFile(name);
  } finally {
    FS.unlink(name);
  }
}
