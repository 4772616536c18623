/**
 * Exports of the training kit (issue 18) whose bad calls live in test/errors-training.test.ts; merged into
 * AUDITED by test/error-audit.ts. One file per owner so parallel work does not collide.
 */
export const trainingExports: string[] = [
  'BaseCallback',
  'CSVLogger',
  'EarlyStopping',
  'LambdaCallback',
  'LearningRateScheduler',
  'ModelCheckpoint',
  'ReduceLROnPlateau',
  'TerminateOnNaN',
];
