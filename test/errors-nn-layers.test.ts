import { describe } from 'vitest';
import { badCalls } from './error-helpers.js';
import { layers } from './errors-nn-layer-calls.js';

/*
 * Error paths of layers (constructor options), model building and layer helpers that
 * test/nn.test.ts does not reach: non-finite and out-of-range values, non-boolean flags, unknown
 * names, missing or non-object arguments. The bad calls live in test/errors-nn-layer-calls.ts.
 */

describe('layers and layer helpers', () => badCalls(layers));
