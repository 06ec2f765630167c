/** The built-in handler module (`class = stagepush:<Export>` in a descriptor). */
export { YumBindHandler } from './yum-bind.js';
export { RpmHandler } from './rpm.js';
export { FileHandler } from './file.js';
export { LinuxHandler } from './linux.js';
export { FileBindHandler } from './file-bind.js';
