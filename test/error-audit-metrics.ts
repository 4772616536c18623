/**
 * Exports of the training kit (issue 18) whose bad calls live in test/errors-metrics.test.ts; merged into
 * AUDITED by test/error-audit.ts. One file per owner so parallel work does not collide.
 */
export const metricsExports: string[] = [
  'sigmoidCrossEntropyWithLogits',
  'binaryCrossentropy',
  'meanAbsoluteError',
  'huber',
  'kullbackLeiblerDivergence',
  'kld',
  'hinge',
  'categoricalHinge',
  'Metric',
  'MeanMetricWrapper',
  'Mean',
  'BinaryAccuracy',
  'CategoricalAccuracy',
  'SparseCategoricalAccuracy',
  'TopKCategoricalAccuracy',
  'SparseTopKCategoricalAccuracy',
  'MeanSquaredError',
  'MeanAbsoluteError',
  'Precision',
  'Recall',
  'AUC',
  'getMetric',
];
