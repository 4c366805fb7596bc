/**
 * Traffic engine: long-lived scapy probe servers (reached through a transport: netns or exec), reachability matrices, captures, masked packet
 * expectations and loss-window streams. See docs/traffic.md.
 */
export type { ChannelOptions } from './channel.ts';
export { comparePackets, diffLayers, parseMasks } from './expect.ts';
export {
  allPairs,
  type CellResult,
  columnKey,
  type Expectation,
  type MatrixCell,
  type MatrixEndpoint,
  type MatrixOptions,
  type MatrixResult,
  matches,
  runMatrix,
} from './matrix.ts';
export { describeCell, LEGEND, type MatrixFormat, type MatrixView, renderMatrix } from './render.ts';
export {
  DEFAULT_PYTHON,
  PROBE_SERVER_SCRIPT,
  ProbeError,
  type ProbeErrorKind,
  ProbeServer,
  type ProbeServerOptions,
  type ServerStats,
  scapyAvailable,
} from './server.ts';
export {
  monoNowMs,
  type RunningStream,
  type StreamGap,
  type StreamOptions,
  type StreamReport,
  startStream,
} from './stream.ts';
export {
  type ExecNode,
  type ProbeRoute,
  type ProbeTransport,
  resolveTransportName,
  TRANSPORT_NAMES,
  type TransportName,
} from './transport.ts';
export type * from './types.ts';
