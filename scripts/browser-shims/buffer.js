// Injected into the browser bundle for pngjs, which expects Node's Buffer (see scripts/build.mjs).
export { Buffer } from 'buffer';
