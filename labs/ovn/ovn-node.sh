#!/bin/sh
# Starts the OVN/OVS daemons of one node of labs/ovn.clab.yml, inside that node. The node binds its own
# lab folders over /var/lib/openvswitch and /var/lib/ovn, and its env points OVS_RUNDIR/OVS_DBDIR/
# OVS_LOGDIR and OVN_RUNDIR/OVN_DBDIR/OVN_LOGDIR there: every database, socket, pidfile and log
# (and every ovs-vsctl/ovn-appctl default socket) is the node's own, nothing is shared with the host
# or another node. The daemons detach into the node's PID namespace: destroying the node ends them.
#
#   ovn-node.sh central <underlay-ip>              NB + SB ovsdb-server, ovn-northd
#   ovn-node.sh chassis <system-id> <underlay-ip> <central-ip> [geneve|vxlan]
#                                                  ovsdb-server, ovs-vswitchd (netdev), ovn-controller
#   ovn-node.sh provider <iface> <network-name>    br-ex on <iface>, mapped to the localnet network
#   ovn-node.sh start <daemon> [args of the node role]  one daemon again (after a kill)
set -eu
OVS=${OVS_RUNDIR:?the node env sets OVS_RUNDIR} OVN=${OVN_RUNDIR:?the node env sets OVN_RUNDIR}

central_db() {   # central_db nb|sb <port> <ip>
  db=$OVN/ovn${1}_db.db
  [ -f "$db" ] || ovsdb-tool create "$db" "/usr/share/ovn/ovn-$1.ovsschema"
  ovsdb-server "$db" --detach --no-chdir --pidfile=$OVN/ovn${1}_db.pid \
    --log-file=$OVN/ovsdb-server-$1.log --unixctl=$OVN/ovn${1}_db.ctl \
    --remote=punix:$OVN/ovn${1}_db.sock --remote="ptcp:$2:$3"
}

northd() {
  ovn-northd --detach --no-chdir --pidfile --log-file \
    --ovnnb-db=unix:$OVN/ovnnb_db.sock --ovnsb-db=unix:$OVN/ovnsb_db.sock
}

vswitch_db() {
  [ -f $OVS/conf.db ] ||
    ovsdb-tool create $OVS/conf.db /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server $OVS/conf.db --detach --no-chdir --pidfile --log-file \
    --remote=punix:$OVS/db.sock
}

vswitchd() { ovs-vswitchd --detach --no-chdir --pidfile --log-file; }
controller() { ovn-controller --detach --no-chdir --pidfile --log-file; }

central() {   # central <underlay-ip>
  ethtool -K eth1 tx off >/dev/null   # the same checksum pitfall: the chassis read what central sends
  central_db nb 6641 "$1"
  central_db sb 6642 "$1"
  ovn-nbctl --db="unix:$OVN/ovnnb_db.sock" --no-wait init
  ovn-sbctl --db="unix:$OVN/ovnsb_db.sock" init
  northd
}

chassis() {   # chassis <system-id> <underlay-ip> <central-ip> [encap]
  id=$1 ip=$2 central=$3 encap=${4:-geneve}
  # Pitfall: with TX checksum offload on, TCP/UDP sent by the kernel reach OVS's AF_PACKET socket with
  # a partial checksum and the receiver drops them (ping works, TCP does not).
  ethtool -K eth1 tx off >/dev/null
  vswitch_db
  ovs-vsctl --no-wait init
  vswitchd
  # The userspace datapath routes tunnel packets only from an address on an OVS bridge's own port:
  # the underlay port is a port of br-phy, which holds the encap address. A fixed MAC keeps the peers'
  # tunnel neighbour caches (900 s) right when a chassis is redeployed.
  mac=$(printf '02:99:00:00:00:%02x' "${ip##*.}")
  ovs-vsctl --may-exist add-br br-phy -- set bridge br-phy datapath_type=netdev \
    other_config:hwaddr="$mac" -- --may-exist add-port br-phy eth1
  ip addr replace "$ip/24" dev br-phy
  ip link set br-phy up
  ovs-vsctl --may-exist add-br br-int -- set bridge br-int datapath_type=netdev fail_mode=secure \
    other_config:disable-in-band=true
  ovs-vsctl set open_vswitch . external_ids:system-id="$id" external_ids:hostname="$id" \
    external_ids:ovn-remote="tcp:$central:6642" external_ids:ovn-encap-type="$encap" \
    external_ids:ovn-encap-ip="$ip" external_ids:ovn-bridge=br-int \
    external_ids:ovn-bridge-datapath-type=netdev
  # ovn-controller(8): by default a (re)starting ovn-controller clears the datapath's flows before it
  # has computed new ones: a forwarding gap on every restart (scenarios/ovn/az-4: 15 of 377 probes
  # lost). Waiting before the clear lets it replace them in place; 2 s is ample for this lab's size.
  ovs-vsctl set open_vswitch . external_ids:ovn-ofctrl-wait-before-clear=2000
  controller
}

provider() {   # provider <iface> <network-name>: the chassis' bridge to the provider network
  ethtool -K "$1" tx off >/dev/null
  ip link set "$1" up
  ovs-vsctl --may-exist add-br br-ex -- set bridge br-ex datapath_type=netdev \
    -- --may-exist add-port br-ex "$1"
  ovs-vsctl set open_vswitch . external_ids:ovn-bridge-mappings="$2:br-ex"
}

case "${1:-}" in
  central) shift; central "$@" ;;
  provider) shift; provider "$@" ;;
  chassis) shift; chassis "$@" ;;
  start)
    case "${2:-}" in
      ovn-northd) northd ;;
      ovn-controller) controller ;;
      ovs-vswitchd) vswitchd ;;
      *) echo "ovn-node.sh: cannot start '${2:-}' (ovn-northd, ovn-controller, ovs-vswitchd)" >&2; exit 2 ;;
    esac ;;
  *) echo "usage: ovn-node.sh central <ip> | chassis <id> <ip> <central-ip> [encap] | provider <iface> <net> | start <daemon>" >&2; exit 2 ;;
esac
