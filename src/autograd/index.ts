export { grad, grads, valueAndGrad, valueAndGrads, variableGrads } from './grad.js';
export { compareGradients, type GradientMismatch, numericGradient } from './gradcheck.js';
export { type GradRule, registeredGradients, registerGradient } from './registry.js';
