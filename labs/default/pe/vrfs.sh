#!/bin/sh
# Tenant VRFs of the default lab's PE (issue 15, FED-1, docs/federation.md), run in the PE node before
# FRR starts (stages.configure on-enter): zebra -n adopts every namespace in the node's /run/netns as
# a VRF, and needs the devices in place when it starts.
#
# Per VRF: a namespace <vrf>; an L3 VNI VXLAN device created here (local = the PE's VTEP 10.0.0.1,
# so its underlay socket stays in the PE's default namespace) and moved in; a bridge (the SVI: its MAC
# is the router MAC FRR announces in type-5 routes); the site link moved in with the PE's address.
set -e
vrf() { name=$1 vni=$2 rmac=$3 dev=$4 addr=$5
  ip netns add "$name"
  ip netns exec "$name" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
  ip -n "$name" link set lo up
  ip link add "vx$vni" type vxlan id "$vni" local 10.0.0.1 dstport 4789 nolearning
  ip link set "vx$vni" netns "$name"
  ip -n "$name" link add "br$vni" type bridge
  ip -n "$name" link set "br$vni" address "$rmac" addrgenmode none
  ip -n "$name" link set "vx$vni" master "br$vni"
  ip -n "$name" link set "vx$vni" type bridge_slave neigh_suppress on learning off
  ip -n "$name" link set "vx$vni" up
  ip -n "$name" link set "br$vni" up
  ip link set "$dev" netns "$name"
  ip -n "$name" addr add "$addr" dev "$dev"
  ip -n "$name" link set "$dev" up
}
# VRF        L3 VNI  router MAC          site link  PE address on it
vrf fed-a    15001   02:0e:00:01:50:01   eth8       198.51.100.1/25
vrf fed-b    15002   02:0e:00:01:50:02   eth9       198.51.100.129/25
