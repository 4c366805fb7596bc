/**
 * Public API of the BGP speaker and tap (see docs/bgp.md). Code outside harness/bgp imports from here
 * only: the reference controller uses `BgpSpeaker`, the harness uses `BgpTap`.
 */
export {
  decodeOpen,
  encodeKeepalive,
  encodeNotification,
  encodeOpen,
  splitMessages,
} from './codec/messages.ts';
export { routeKey } from './codec/nlri.ts';
export {
  type DecodedUpdate,
  decodeUpdate,
  encodeAnnounce,
  encodeEndOfRib,
  encodeWithdraw,
  type UpdateDecodeContext,
} from './codec/update.ts';
export { type BestChange, comparePaths, LocRib, macMobility, type RibEntry, secgroups } from './rib.ts';
export type { PeerConfig, PeerInfo, PeerState } from './session.ts';
export { BgpSpeaker, type SpeakerEvents, type SpeakerOptions, type UpdateEvent } from './speaker.ts';
export {
  BgpTap,
  matchRoute,
  type RouteFilter,
  SpeakerProcess,
  type SpeakerProcessOptions,
  type TapOptions,
  TapRib,
  type TapRoute,
  type TranscriptEntry,
} from './tap.ts';
export * from './types.ts';
