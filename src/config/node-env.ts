/**
 * NODE_ENV's default made the process's own (config.ts defaultNodeEnv), for the libraries that
 * read NODE_ENV from the environment themselves when they load. Imported first by the server's
 * entry (server/main.ts), before any of them. clipql's table says an unset NODE_ENV means
 * production (settings.ts), but graphql-js took it for development: its `instanceOf` then checks
 * class names on every failed type test, thousands of times per answered embedding (each of its
 * 512 floats passes isNonNullType, isListType, isLeafType...), 0.1-0.2 ms of the event loop per
 * request in a CPU profile of cached image requests. A NODE_ENV that is set is left as it is.
 */
import { defaultNodeEnv } from './config';

defaultNodeEnv();
