export * from './types.js';
export * from './model.js';
export * from './shape.js';
