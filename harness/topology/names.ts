/**
 * containerlab's name and value patterns, anchored at both ends and enforced by the project itself
 * (not only through the schema file): these values become namespace names, paths and `ip -batch`
 * arguments, so a value that does not match exactly never reaches a command.
 */

/** containerlab's lab-name pattern (`name:`): no '/', no leading '.', so never a path outside the lab. */
export const LAB_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;
/** containerlab's node-name pattern (keys of `topology.nodes`). */
export const NODE_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._|-]*$/;
/** containerlab's `prefix:` pattern. */
export const PREFIX_PATTERN = /^(|__lab-name|[a-zA-Z0-9][a-zA-Z0-9._-]*)$/;
/** containerlab's MAC pattern, with the end anchor its schema lacks (a trailing newline never passes). */
export const MAC_PATTERN = /^(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$/;
/** A sysctl key: dot-separated segments without '/' or empty segments (never a path out of /proc/sys). */
export const SYSCTL_KEY_PATTERN = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+$/;
/** An IPv4 address in CIDR notation. */
export const IPV4_CIDR_PATTERN =
  /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\/(?:3[0-2]|[12]?[0-9])$/;
/** An IPv6 address in CIDR notation (hex groups and colons only, then a prefix length). */
export const IPV6_CIDR_PATTERN = /^[0-9A-Fa-f:]{2,39}\/(?:12[0-8]|1[01][0-9]|[1-9]?[0-9])$/;
