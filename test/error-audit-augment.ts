/**
 * Exports of the training kit (issue 18) whose bad calls live in test/errors-augment.test.ts; merged into
 * AUDITED by test/error-audit.ts. One file per owner so parallel work does not collide.
 */
export const augmentExports: string[] = [
  'affineResample',
  'affineResampleGrad',
  'RandomFlip',
  'RandomRotation',
  'RandomZoom',
  'RandomTranslation',
  'RandomCrop',
  'RandomContrast',
  'RandomBrightness',
  'Rescaling',
  'Normalization',
  'Resizing',
  'CenterCrop',
];
