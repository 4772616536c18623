/** This library's version (package.json); kept equal by test/autotune.test.ts. */
export const VERSION = '0.1.0';
