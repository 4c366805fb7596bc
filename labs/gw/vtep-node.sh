#!/bin/sh
# Starts the OVSDB hardware VTEP of labs/gw.clab.yml inside its node: Open vSwitch on the userspace
# `netdev` datapath (this kernel has no OVS module), the hardware_vtep schema served next to
# Open_vSwitch by one ovsdb-server, and Debian's stock `ovs-vtep` emulator (openvswitch-vtep) under
# /usr/bin/python3 (the `ovs` Python module is a Debian package). The node binds its own lab folder over
# /var/lib/openvswitch and its env points OVS_RUNDIR/OVS_DBDIR/OVS_LOGDIR there: every database,
# socket, pidfile and log is the node's own. The daemons detach into the node's PID namespace, so
# destroying the lab ends them. Measured recipe and limits: /work/shared/vtep, docs/gateways.md.
#
#   vtep-node.sh gateway <ps-name> <tunnel-ip/len> <next-hop> <ovsdb-port> <port>...
#       <ps-name> at most 6 characters: ovs-vtep names a tap `<ps>_vtep_lsN` (15-character limit)
#   vtep-node.sh access <bridge> <trunk-port> <port>:<vlan>...
#       a host-side access switch (the kernel has no 802.1Q devices, so OVS does the tagging): each
#       <port> an access port tag=<vlan>, <trunk-port> carrying those VLANs tagged toward a gateway port
#   vtep-node.sh start ovs-vtep <ps-name>      the emulator again (after a process fault)
set -eu
OVS=${OVS_RUNDIR:?the node env sets OVS_RUNDIR}
VTEP_EMULATOR=/usr/share/openvswitch/scripts/ovs-vtep

emulator() {
  /usr/bin/python3 $VTEP_EMULATOR --detach --no-chdir --pidfile=$OVS/ovs-vtep.pid \
    --log-file=$OVS/ovs-vtep.log "$1"
}

gateway() {
  ps=$1 tunnel=$2 via=$3 port=$4
  shift 4
  # Userspace OVS reads frames through AF_PACKET: with TX checksum offload on, what a kernel sends
  # toward it keeps a partial checksum and the far end drops it.
  for dev in eth1 "$@"; do ethtool -K "$dev" tx off >/dev/null; done
  [ -f $OVS/conf.db ] || ovsdb-tool create $OVS/conf.db /usr/share/openvswitch/vswitch.ovsschema
  [ -f $OVS/vtep.db ] || ovsdb-tool create $OVS/vtep.db /usr/share/openvswitch/vtep.ovsschema
  # The controller manages the hardware_vtep database over TCP (RFC 7047), as a vendor gateway's.
  ovsdb-server $OVS/conf.db $OVS/vtep.db --detach --no-chdir --pidfile --log-file \
    --remote=punix:$OVS/db.sock --remote="ptcp:$port"
  ovs-vsctl --no-wait init
  ovs-vswitchd --detach --no-chdir --pidfile --log-file
  # The userspace datapath routes tunnel packets only from an address on an OVS bridge's own port.
  ovs-vsctl --may-exist add-br uplink -- set bridge uplink datapath_type=netdev -- --may-exist add-port uplink eth1
  ip addr replace "$tunnel" dev uplink
  ip link set uplink up
  ip route replace 10.0.0.0/16 via "$via"
  # The physical switch bridge: ovs-vtep gives the logical-switch bridges it creates this datapath type.
  ovs-vsctl --may-exist add-br "$ps" -- set bridge "$ps" datapath_type=netdev
  vtep-ctl --may-exist add-ps "$ps"
  vtep-ctl set Physical_Switch "$ps" tunnel_ips="${tunnel%/*}"
  for p in "$@"; do
    ip link set "$p" up
    ovs-vsctl --may-exist add-port "$ps" "$p"
    vtep-ctl --may-exist add-port "$ps" "$p"
  done
  emulator "$ps"
}

access() {
  br=$1 trunk=$2
  shift 2
  for p in "$trunk" "$@"; do ethtool -K "${p%%:*}" tx off >/dev/null; done
  [ -f $OVS/conf.db ] || ovsdb-tool create $OVS/conf.db /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server $OVS/conf.db --detach --no-chdir --pidfile --log-file --remote=punix:$OVS/db.sock
  ovs-vsctl --no-wait init
  ovs-vswitchd --detach --no-chdir --pidfile --log-file
  ovs-vsctl --may-exist add-br "$br" -- set bridge "$br" datapath_type=netdev
  ip link set "$trunk" up
  ovs-vsctl --may-exist add-port "$br" "$trunk"
  for pv in "$@"; do
    ip link set "${pv%%:*}" up
    ovs-vsctl --may-exist add-port "$br" "${pv%%:*}" tag="${pv#*:}"
  done
  ip link set "$br" up
}

case "${1:-}" in
  gateway) shift; gateway "$@" ;;
  access) shift; access "$@" ;;
  start)
    case "${2:-}" in
      ovs-vtep) emulator "${3:?physical switch name}" ;;
      *) echo "vtep-node.sh: cannot start '${2:-}' (ovs-vtep)" >&2; exit 2 ;;
    esac ;;
  *) echo "usage: vtep-node.sh gateway <ps> <tunnel-ip/len> <next-hop> <ovsdb-port> <port>... | access <bridge> <trunk> <port>:<vlan>... | start ovs-vtep <ps>" >&2; exit 2 ;;
esac
