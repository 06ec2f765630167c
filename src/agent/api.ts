/**
 * What handler modules get: the base classes and report classes. Third-party modules receive
 * this object as the argument of their default-export function (see loader.ts); TypeScript
 * code inside stagepush imports the same classes from ./handler.js and ./reports.js.
 */
import { BindHandler, ContentHandler, Handler, SystemHandler, parseBoolean } from './handler.js';
import { AggregateReport, BindReport, CleanReport, ContentReport, HandlerReport, ProfileReport, RebootReport } from './reports.js';

export const handlerApi = Object.freeze({
  Handler,
  ContentHandler,
  BindHandler,
  SystemHandler,
  HandlerReport,
  ContentReport,
  ProfileReport,
  BindReport,
  CleanReport,
  RebootReport,
  AggregateReport,
  parseBoolean,
});

export type HandlerApi = typeof handlerApi;
