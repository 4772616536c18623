export * from './autograd/index.js';
export * from './nn/index.js';
export * from './ops.js';
export * from './tensor/index.js';
