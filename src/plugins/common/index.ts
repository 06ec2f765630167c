/** Shared helpers of the built-in plugins: atomic publish, RAW directory trees, config checks. */
export * from './publish.js';
export * from './directory.js';
export * from './config.js';
export * from './fsutil.js';
