import { getDevice } from '../src/index.js';

// Every test file runs on the shared device; create it once per worker.
await getDevice();
