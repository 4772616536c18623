/**
 * Exports of the training kit (issue 18) whose bad calls live in test/errors-optim.test.ts; merged into
 * AUDITED by test/error-audit.ts. One file per owner so parallel work does not collide.
 */
export const optimExports: string[] = [
  'AdamW',
  'Adagrad',
  'Nadam',
  'RMSprop',
  'getOptimizer',
  'optimizerFromConfig',
  'cosineDecay',
  'inverseTimeDecay',
  'piecewiseConstantDecay',
  'polynomialDecay',
  'scheduleFromConfig',
  'getRegularizer',
  'l1',
  'l2',
  'l1l2',
  'Regularizer',
];
